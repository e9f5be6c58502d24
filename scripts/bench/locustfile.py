# Locust's fastest user for the side-by-side benchmark: GET /hello, no wait.
from locust import FastHttpUser, constant, task


class Hello(FastHttpUser):
    wait_time = constant(0)

    @task
    def hello(self):
        self.client.get("/hello")
