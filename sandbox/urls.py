"""`/sandbox/__sim/…`: hooks shared by every simulator. Each provider's API is included beside it."""

from django.urls import path

from sandbox import views

urlpatterns = [
    path("__sim/reset", views.sim_reset_view, name="sandbox-reset"),
    path("__sim/fault", views.sim_fault_view, name="sandbox-fault"),
    path("__sim/faults_off", views.sim_faults_off_view, name="sandbox-faults-off"),
    path("__sim/advance_time", views.sim_advance_time_view, name="sandbox-advance-time"),
]
