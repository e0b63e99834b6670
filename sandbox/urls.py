"""`/sandbox/…`: hooks shared by every simulator (`__sim/…`) and each provider's simulated API beside them.

config/urls.py includes this module only when `SANDBOX_ENABLED`; every view also answers 404 once the setting is
switched off at run time (tests do).
"""

from django.urls import include, path

from sandbox import views

urlpatterns = [
    path("__sim/reset", views.sim_reset_view, name="sandbox-reset"),
    path("__sim/fault", views.sim_fault_view, name="sandbox-fault"),
    path("__sim/faults_off", views.sim_faults_off_view, name="sandbox-faults-off"),
    path("__sim/advance_time", views.sim_advance_time_view, name="sandbox-advance-time"),
    path("stripe/", include("sandbox.stripe.urls")),
    # Payflow is simulated twice (Gateway and Pro), each with its own state; the view is told which
    path("payflow/", include("sandbox.payflow.urls"), {"provider": "payflow"}),
    path("payflow_pro/", include("sandbox.payflow.urls"), {"provider": "payflow_pro"}),
    path("authorizenet/", include("sandbox.authorizenet.urls")),
    path("infinitepay/", include("sandbox.infinitepay.urls")),
    path("oropay/", include("sandbox.oropay.urls")),
    path("apruve/", include("sandbox.apruve.urls")),
    path("wirecard/", include("sandbox.wirecard.urls")),
]
