#ifndef HOTLINE_CEPOLL_H
#define HOTLINE_CEPOLL_H
// Exposes Linux epoll and eventfd to Swift: the Glibc module does not export them.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <netinet/tcp.h>

static inline uint32_t cepoll_EPOLLIN(void)  { return EPOLLIN; }
static inline uint32_t cepoll_EPOLLOUT(void) { return EPOLLOUT; }
static inline uint32_t cepoll_EPOLLERR(void) { return EPOLLERR; }
static inline uint32_t cepoll_EPOLLHUP(void) { return EPOLLHUP; }
static inline uint32_t cepoll_EPOLLRDHUP(void) { return EPOLLRDHUP; }
static inline uint32_t cepoll_EPOLLET(void)  { return EPOLLET; }

#endif
