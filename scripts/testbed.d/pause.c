/* Minimal pod sandbox "pause" process for the thidctl testbed.
 * Built with `gcc -static -Os` into a FROM scratch image (127.0.0.1:5000/pause).
 * Sleeps forever, reaps zombies (it is PID 1 of the pod), exits 0 on SIGINT/SIGTERM. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static void sigdown(int signo) {
  (void)signo;
  _exit(0);
}

static void sigreap(int signo) {
  (void)signo;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "-v") == 0) {
    printf("pause (thidctl-testbed)\n");
    return 0;
  }
  if (getpid() != 1) {
    fprintf(stderr, "Warning: pause should be the first process\n");
  }
  struct sigaction down, reap;
  memset(&down, 0, sizeof down);
  memset(&reap, 0, sizeof reap);
  down.sa_handler = sigdown;
  reap.sa_handler = sigreap;
  reap.sa_flags = SA_NOCLDSTOP;
  if (sigaction(SIGINT, &down, NULL) < 0 || sigaction(SIGTERM, &down, NULL) < 0 ||
      sigaction(SIGCHLD, &reap, NULL) < 0) {
    return 1;
  }
  for (;;) {
    pause();
  }
  return 42;
}
