/*
 * signals.c - the caller's signal state, forwarding signals to the
 * program, and job control.
 *
 * The program runs in its own process group under the server, not in the
 * caller's job, so the terminal's signals (Ctrl-C, Ctrl-\, Ctrl-Z, window
 * changes) reach only this client: it passes each on.  A signal the
 * terminal sent (si_code SI_KERNEL) goes to the program's whole process
 * group, as the terminal would have sent it to the program and its
 * children; one sent by kill(2) goes to the program alone.  SIGCONT goes
 * to the group: Ctrl-Z stopped all of it.
 *
 * Stopping follows the program: Ctrl-Z is passed on, and when the server
 * reports the program stopped, the client stops itself with the same
 * signal, so the shell sees the job stopped; `fg` continues the client,
 * which continues the program.  A program that ignores SIGTSTP is not
 * stopped, and neither is the client, as with plain python.  A program
 * continued by someone else has its client continued by the server; a
 * client that cannot stop (its process group is orphaned, where the kernel
 * discards SIGTSTP) continues its program rather than leave it stopped.
 *
 * Every signal is passed on except those no process can catch, SIGCHLD,
 * the terminal's SIGTTIN and SIGTTOU (the client never reads or writes
 * it), and the faults a process raises on itself.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "client.h"

#ifndef PIDFD_SIGNAL_PROCESS_GROUP
#define PIDFD_SIGNAL_PROCESS_GROUP (1U << 2)
#endif

static int forwarded(int sig)
{
    switch (sig) {
    case SIGKILL:
    case SIGSTOP:
    case SIGCHLD:
    case SIGTTIN:
    case SIGTTOU:
    case SIGSEGV:
    case SIGBUS:
    case SIGFPE:
    case SIGILL:
    case SIGTRAP:
    case SIGSYS: return 0;
    }
    return 1; /* (glibc refuses 32 and 33, its own, to sigaction) */
}

static sigset_t original_mask;
static struct sigaction original_actions[65];
static int captured[65];
static uint64_t ignored;
static volatile sig_atomic_t continued;

static volatile int target_pidfd = -1;
static volatile pid_t target_pid;

void signals_capture(void)
{
    sigprocmask(SIG_BLOCK, NULL, &original_mask);
    for (int sig = 1; sig <= 64; sig++) {
        struct sigaction sa;
        if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
            ignored |= UINT64_C(1) << (sig - 1);
    }
    for (int sig = 1; sig <= 64; sig++)
        captured[sig] =
            forwarded(sig) && sigaction(sig, NULL, &original_actions[sig]) == 0;
}

uint64_t signals_ignored(void)
{
    return ignored;
}

uint64_t signals_blocked(void)
{
    uint64_t bits = 0;
    for (int sig = 1; sig <= 64; sig++)
        if (sigismember(&original_mask, sig) == 1)
            bits |= UINT64_C(1) << (sig - 1);
    return bits;
}

void signals_restore(void)
{
    for (int sig = 1; sig <= 64; sig++)
        if (captured[sig])
            sigaction(sig, &original_actions[sig], NULL);
    sigprocmask(SIG_SETMASK, &original_mask, NULL);
}

static void send_to_program(int sig, int group)
{
    int pidfd = target_pidfd;
    if (pidfd < 0)
        return;
    if (group) {
        if (syscall(SYS_pidfd_send_signal, pidfd, sig, NULL,
                    PIDFD_SIGNAL_PROCESS_GROUP) == 0 ||
            errno == ESRCH)
            return;
        /* Kernels before 6.9: the group's id is the program's pid (it
         * leads its group); the pidfd below still tells if it is gone. */
        if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) == 0)
            kill(-target_pid, sig);
        return;
    }
    syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

static void forward(int sig, siginfo_t *info, void *context)
{
    (void)context;
    int saved = errno;
    if (sig == SIGCONT)
        continued++;
    send_to_program(sig, sig == SIGCONT || info->si_code == SI_KERNEL);
    errno = saved;
}

/* A signal the caller ignored is passed on all the same: the program was
 * given the same disposition and may have set a handler of its own since,
 * as it may under python, which then sees the signal (a CI job started in
 * the background ignores SIGINT and SIGQUIT; nohup ignores SIGHUP).  Not
 * the ones the client may raise itself (SIGPIPE, SIGXFSZ: its own writes)
 * nor a terminal's stop, which the caller chose not to take. */
static int passed_on_when_ignored(int sig)
{
    return sig != SIGPIPE && sig != SIGXFSZ && sig != SIGTSTP;
}

void signals_forward(int pidfd, pid_t pid)
{
    target_pid = pid;
    target_pidfd = pidfd;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = forward;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigfillset(&sa.sa_mask);
    for (int sig = 1; sig <= 64; sig++) {
        if (!captured[sig] ||
            (sig != SIGCONT && (ignored & (UINT64_C(1) << (sig - 1))) &&
             !passed_on_when_ignored(sig)))
            continue;
        sigaction(sig, &sa, NULL);
    }
}

void signals_stop_self(int sig)
{
    struct sigaction dfl, saved;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(sig, &dfl, &saved);
    sigset_t only;
    sigemptyset(&only);
    sigaddset(&only, sig);
    sig_atomic_t before = continued;
    sigprocmask(SIG_UNBLOCK, &only, NULL);
    raise(sig);
    /* Continued (SIGCONT, forwarded by its handler): catch sig again. */
    sigaction(sig, &saved, NULL);
    if (continued == before && sig != SIGSTOP)
        send_to_program(SIGCONT, 1); /* the stop was discarded: orphaned */
}

void signals_exit_like(const run_exit *how)
{
    if (!how->signaled)
        _exit(how->value & 0xff);
    int sig = how->value;
    /* Die of the same signal, so the caller sees 128+N; the program's core
     * file (if any) must not be overwritten by this process's. */
    struct rlimit none = {0, 0};
    setrlimit(RLIMIT_CORE, &none);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(sig, &dfl, NULL);
    sigset_t only;
    sigemptyset(&only);
    sigaddset(&only, sig);
    sigprocmask(SIG_UNBLOCK, &only, NULL);
    raise(sig);
    _exit(128 + sig); /* a signal whose default is not to end a process */
}
