from django.urls import path
from django.views.generic import RedirectView

app_name = "vaults"

# Vault pages and the + Backup wizard arrive with the vault work; until then these routes say so.
urlpatterns = [
    path(
        "", RedirectView.as_view(pattern_name="coming_soon", permanent=False), {"feature": "vaults"}, name="vault_list"
    ),
    path("<int:pk>/", RedirectView.as_view(url="/coming/vaults/", permanent=False), name="vault_detail"),
    path("instances/add/", RedirectView.as_view(url="/coming/backup/", permanent=False), name="instance_add"),
]
