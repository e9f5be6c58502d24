"""Load for thidwick-starter: simulated users who keep saying hello.

The target comes from Locust's --host (the chart passes the master's TARGET_HOST), e.g.
http://thidwick-thidwick-starter:8080. Importing prometheus_exporter adds
/export/prometheus to the web UI so Prometheus can scrape Locust's statistics.
"""

from locust import FastHttpUser, between, task

import prometheus_exporter  # noqa: F401  (registers the /export/prometheus route on init)


class ThidwickUser(FastHttpUser):
    # Each user pauses 0.5 to 5 seconds between requests, as in the original runbook.
    wait_time = between(0.5, 5)

    @task(2)
    def hello(self):
        self.client.get("/hello")

    # The original also asked for a page that does not exist, to put failures on the charts.
    # Uncomment to bring them back.
    # @task(1)
    # def no_such_page(self):
    #     self.client.get("/no_such_page")
