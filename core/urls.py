from django.urls import path

from core.activity import ActivityLogView

app_name = "core"
urlpatterns = [path("activity/", ActivityLogView.as_view(), name="activity")]
