from django.urls import path

from status import views

app_name = "manage"

urlpatterns = [
    path("", views.manage_home, name="home"),
    path("<str:page_code>/", views.manage_page, name="page"),
    path(
        "<str:page_code>/components/<str:component_code>/status/",
        views.set_component_status,
        name="component-status",
    ),
]
