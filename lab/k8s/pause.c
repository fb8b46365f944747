/* The pod sandbox's process ("pause" image): holds the pod's namespaces, reaps zombies, exits on
 * SIGINT/SIGTERM. Built static (`cargo xtask k8s-up` does it), so its image is this one file. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int sig) { (void)sig; _exit(0); }
static void reap(int sig) {
  (void)sig;
  while (waitpid(-1, 0, WNOHANG) > 0) {
  }
}

int main(void) {
  signal(SIGINT, stop);
  signal(SIGTERM, stop);
  signal(SIGCHLD, reap);
  for (;;) pause();
}
