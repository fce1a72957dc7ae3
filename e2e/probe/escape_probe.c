/*
 * Escape probe: attempts every call a workspace container must not make and prints one
 * line per attempt: "<name>\t<result>\t<errno name>". <result> is "denied" when the call
 * failed with EPERM (the seccomp profile's answer, or a missing capability), "reached"
 * when it failed with another error (the kernel saw the call, so no filter stopped it),
 * and "allowed" when it succeeded. Built statically on the host and run in the container.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef AF_ALG
#define AF_ALG 38
#endif
#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

static void report(const char *name, long rc) {
    if (rc >= 0) {
        printf("%s\tallowed\t-\n", name);
    } else if (errno == EPERM) {
        printf("%s\tdenied\tEPERM\n", name);
    } else {
        printf("%s\treached\t%s\n", name, strerrorname_np(errno));
    }
    fflush(stdout);
}

/* socket() that closes what it opened. */
static long try_socket(int family, int type, int protocol) {
    long fd = socket(family, type, protocol);
    if (fd >= 0) close((int)fd);
    return fd;
}

/* A clone with namespace flags; a child that appears exits at once. */
static long try_clone(unsigned long flags) {
    long pid = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) _exit(0);
    if (pid > 0) waitpid((pid_t)pid, NULL, 0);
    return pid;
}

int main(void) {
    struct timespec now = {0};
    char byte = 'x';
    union bpf_attr bpf_attr;
    struct perf_event_attr perf_attr;
    char handle[64] = {0};

    report("mount", syscall(SYS_mount, "none", "/tmp", "tmpfs", 0, NULL));
    report("umount2", syscall(SYS_umount2, "/workspace", 2 /* MNT_DETACH */));
    report("unshare(CLONE_NEWNS)", syscall(SYS_unshare, CLONE_NEWNS));
    report("unshare(CLONE_NEWUTS)", syscall(SYS_unshare, CLONE_NEWUTS));
    report("unshare(CLONE_NEWIPC)", syscall(SYS_unshare, CLONE_NEWIPC));
    report("unshare(CLONE_NEWUSER)", syscall(SYS_unshare, CLONE_NEWUSER));
    report("unshare(CLONE_NEWPID)", syscall(SYS_unshare, CLONE_NEWPID));
    report("unshare(CLONE_NEWNET)", syscall(SYS_unshare, CLONE_NEWNET));
    report("unshare(CLONE_NEWCGROUP)", syscall(SYS_unshare, CLONE_NEWCGROUP));
    int ns = open("/proc/self/ns/net", O_RDONLY);
    report("setns", syscall(SYS_setns, ns, 0));
    report("clone(CLONE_NEWUSER)", try_clone(CLONE_NEWUSER));
    report("clone(CLONE_NEWNS)", try_clone(CLONE_NEWNS));
    report("clone(CLONE_NEWNET)", try_clone(CLONE_NEWNET));
    report("ptrace(PTRACE_ATTACH)", syscall(SYS_ptrace, 16 /* PTRACE_ATTACH */, getppid(), 0, 0));
    report("process_vm_readv", syscall(SYS_process_vm_readv, getppid(), NULL, 0, NULL, 0, 0));
    report("keyctl", syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3, 0));
    report("add_key", syscall(SYS_add_key, "user", "cchub-probe", "x", 1, -3));
    report("request_key", syscall(SYS_request_key, "user", "cchub-probe", NULL, 0));
    memset(&bpf_attr, 0, sizeof bpf_attr);
    report("bpf", syscall(SYS_bpf, BPF_MAP_CREATE, &bpf_attr, sizeof bpf_attr));
    memset(&perf_attr, 0, sizeof perf_attr);
    perf_attr.size = sizeof perf_attr;
    report("perf_event_open", syscall(SYS_perf_event_open, &perf_attr, 0, -1, -1, 0));
    report("userfaultfd", syscall(SYS_userfaultfd, 0));
    report("kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0));
    report("init_module", syscall(SYS_init_module, NULL, 0, ""));
    report("finit_module", syscall(SYS_finit_module, -1, "", 0));
    report("delete_module", syscall(SYS_delete_module, "cchub_probe", 0));
    report("pivot_root", syscall(SYS_pivot_root, "/tmp", "/tmp"));
    report("chroot", syscall(SYS_chroot, "/tmp"));
    report("open_by_handle_at", syscall(SYS_open_by_handle_at, AT_FDCWD, handle, O_RDONLY));
    report("reboot", syscall(SYS_reboot, 0xfee1dead, 672274793, 0x4321fedc /* power off */, NULL));
    report("swapon", syscall(SYS_swapon, "/tmp/cchub-probe-swap", 0));
    report("acct", syscall(SYS_acct, "/tmp/cchub-probe-acct"));
    report("clock_settime", syscall(SYS_clock_settime, CLOCK_REALTIME, &now));
    report("io_uring_setup", syscall(SYS_io_uring_setup, 1, handle));
    report("socket(AF_PACKET)", try_socket(17 /* AF_PACKET */, SOCK_RAW, 0));
    report("socket(AF_ALG)", try_socket(AF_ALG, SOCK_SEQPACKET, 0));
    report("socket(AF_VSOCK)", try_socket(AF_VSOCK, SOCK_STREAM, 0));
    report("socket(AF_INET, SOCK_RAW)", try_socket(AF_INET, SOCK_RAW, 1 /* ICMP */));
    report("socket(AF_INET6, SOCK_RAW)", try_socket(AF_INET6, SOCK_RAW, 58 /* ICMPv6 */));
    report("socket(AF_NETLINK)", try_socket(16 /* AF_NETLINK */, SOCK_RAW, 0 /* NETLINK_ROUTE */));
    /* On a descriptor that is not a terminal the kernel answers ENOTTY, so EPERM can
       only come from the filter. */
    int null_fd = open("/dev/null", O_RDWR);
    report("ioctl(TIOCSTI)", ioctl(null_fd, TIOCSTI, &byte));
    report("ioctl(TIOCLINUX)", ioctl(null_fd, TIOCLINUX, &byte));
    /* The kernel reads the request as 32 bits, so upper bits must not smuggle TIOCSTI
       past the filter. */
    report("ioctl(TIOCSTI with upper bits)", syscall(SYS_ioctl, null_fd, (unsigned long)TIOCSTI | (1UL << 32), &byte));
    report("ioctl(TIOCLINUX with upper bits)", syscall(SYS_ioctl, null_fd, (unsigned long)TIOCLINUX | (0xffUL << 40), &byte));
    /* Controls that must keep working: the same kind of calls with allowed arguments. */
    report("control:ioctl(TCGETS)", ioctl(null_fd, TCGETS, handle) == -1 && errno == ENOTTY ? 0 : -1);
    report("control:socket(AF_INET, SOCK_STREAM)", try_socket(AF_INET, SOCK_STREAM, 0));
    report("control:socket(AF_UNIX)", try_socket(AF_UNIX, SOCK_STREAM, 0));
    report("control:clone(thread-like)", try_clone(0));
    return 0;
}
