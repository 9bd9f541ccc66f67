#ifndef HOTLINE_CEPOLL_H
#define HOTLINE_CEPOLL_H
// Exposes Linux epoll and eventfd to Swift: the Glibc module does not export them.
#include <stdint.h>
#include <stddef.h>
#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/prctl.h>

static inline uint32_t cepoll_EPOLLIN(void)  { return EPOLLIN; }
static inline uint32_t cepoll_EPOLLOUT(void) { return EPOLLOUT; }
static inline uint32_t cepoll_EPOLLERR(void) { return EPOLLERR; }
static inline uint32_t cepoll_EPOLLHUP(void) { return EPOLLHUP; }
static inline uint32_t cepoll_EPOLLRDHUP(void) { return EPOLLRDHUP; }
static inline uint32_t cepoll_EPOLLET(void)  { return EPOLLET; }

// --- helpers used by the transport (avoid importing the packed `struct epoll_event` into Swift) ---

/// epoll_create1(EPOLL_CLOEXEC).
static inline int cepoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

/// epoll_ctl with `data.u64 = token`. `op`: 1 add, 2 delete, 3 modify.
static inline int cepoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t token) {
    struct epoll_event ev;
    ev.events = events;
    ev.data.u64 = token;
    return epoll_ctl(epfd, op, fd, &ev);
}
static inline int cepoll_CTL_ADD(void) { return EPOLL_CTL_ADD; }
static inline int cepoll_CTL_DEL(void) { return EPOLL_CTL_DEL; }
static inline int cepoll_CTL_MOD(void) { return EPOLL_CTL_MOD; }

/// epoll_wait into two parallel arrays (tokens, event masks); at most 64 events per call.
static inline int cepoll_wait(int epfd, uint64_t *tokens, uint32_t *events, int maxevents, int timeout_ms) {
    struct epoll_event evs[64];
    if (maxevents > 64) maxevents = 64;
    if (maxevents < 1) maxevents = 1;
    int n = epoll_wait(epfd, evs, maxevents, timeout_ms);
    for (int i = 0; i < n; i++) {
        tokens[i] = evs[i].data.u64;
        events[i] = evs[i].events;
    }
    return n;
}

/// eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC).
static inline int cepoll_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

/// socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0).
static inline int cepoll_tcp_socket(void) { return socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0); }

// accept4 is a GNU extension: declared here so the header does not depend on _GNU_SOURCE.
extern int accept4(int sockfd, struct sockaddr *addr, socklen_t *addrlen, int flags);

/// accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC).
static inline int cepoll_accept(int fd) { return accept4(fd, 0, 0, SOCK_NONBLOCK | SOCK_CLOEXEC); }

/// send(2) with MSG_NOSIGNAL (a write to a reset peer returns EPIPE instead of raising SIGPIPE).
static inline long cepoll_send(int fd, const void *buf, unsigned long len) { return (long)send(fd, buf, len, MSG_NOSIGNAL); }

/// setsockopt(IPPROTO_TCP, TCP_NODELAY, 1).
static inline int cepoll_set_nodelay(int fd) {
    int one = 1;
    return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/// Names the calling thread (at most 15 bytes are kept).
static inline void cepoll_set_thread_name(const char *name) { (void)prctl(PR_SET_NAME, name, 0, 0, 0); }

/// The thread-local errno.
static inline int cepoll_errno(void) { return errno; }

/// CRC-32C (Castagnoli) with the SSE 4.2 `crc32` instruction: `state` is the running register (initial value and
/// final XOR left to the caller); returns the register after `n` bytes at `p`. Only call when
/// `cepoll_crc32c_hardware()` is 1 (x86-64 with SSE 4.2); elsewhere it returns `state` unchanged.
uint32_t cepoll_crc32c_update(uint32_t state, const void *p, size_t n);
/// 1 when `cepoll_crc32c_update` runs on hardware here, else 0.
int cepoll_crc32c_hardware(void);

#endif
