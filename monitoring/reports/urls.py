from django.urls import path

from monitoring.reports import views

app_name = "reports"
urlpatterns = [
    path("schedules/", views.schedules, name="schedule_list"),
    path("schedules/<int:pk>/delete/", views.schedule_delete, name="schedule_delete"),
    path("exports/<int:pk>/", views.export_detail, name="export_detail"),
    path("exports/<int:pk>/download/", views.export_download, name="export_download"),
    path("<slug:tab>/", views.tab, name="tab"),
    path("<slug:tab>/export.<slug:fmt>", views.export, name="export"),
]
