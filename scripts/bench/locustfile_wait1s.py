# Locust users that wait one second between requests (the many-users benchmark).
from locust import FastHttpUser, constant, task


class Hello(FastHttpUser):
    wait_time = constant(1)

    @task
    def hello(self):
        self.client.get("/hello")
