// C anchor for `Tests/Benchmarks/compare.sh`: two processes over 127.0.0.1 TCP (TCP_NODELAY), frames with a
// 4-byte big-endian length prefix, as Hotline's wire frames are. What a C engineer would write first:
//
//   anchor server echo          listen on an ephemeral port, print "port N", echo every frame back
//   anchor server sink COUNT    listen, print "port N", count frames; after COUNT frames answer one 4-byte ack
//   anchor client rtt      PORT CALLS SIZE        one outstanding frame, blocking write/read (latency per call)
//   anchor client pipeline PORT CALLS SIZE DEPTH  DEPTH frames outstanding; replies read in chunks, new
//                                                 requests written in one write(2) per chunk
//   anchor client stream   PORT COUNT SIZE        one-way frames, written in 64 KiB batches; the time runs until
//                                                 the receiver acknowledges that it has counted all COUNT
//
// The client prints one line: "RESULT impl=c workload=... key=value ...". Build: gcc -O2 -o anchor anchor.c
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what) { perror(what); exit(1); }

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void nodelay(int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void write_all(int fd, const void *buf, size_t n) {
    const char *p = buf;
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) { if (errno == EINTR) continue; die("send"); }
        p += w; n -= (size_t)w;
    }
}

// Reads exactly n bytes; returns 0 on EOF before any byte, 1 when done.
static int read_all(int fd, void *buf, size_t n) {
    char *p = buf;
    size_t got = 0;
    while (got < n) {
        ssize_t r = recv(fd, p + got, n - got, 0);
        if (r == 0) { if (got == 0) return 0; fprintf(stderr, "short read\n"); exit(1); }
        if (r < 0) { if (errno == EINTR) continue; die("recv"); }
        got += (size_t)r;
    }
    return 1;
}

static void put_len(char *p, uint32_t n) { uint32_t be = htonl(n); memcpy(p, &be, 4); }
static uint32_t get_len(const char *p) { uint32_t be; memcpy(&be, p, 4); return ntohl(be); }

// A receive buffer that parses whole frames out of large reads.
typedef struct { char *buf; size_t cap, start, end; } rbuf;

static void rb_init(rbuf *b, size_t cap) { b->buf = malloc(cap); b->cap = cap; b->start = b->end = 0; }

// Reads more bytes (compacting first); returns bytes read, 0 on EOF.
static ssize_t rb_fill(rbuf *b, int fd) {
    if (b->start > 0) {
        memmove(b->buf, b->buf + b->start, b->end - b->start);
        b->end -= b->start; b->start = 0;
    }
    if (b->end == b->cap) { b->cap *= 2; b->buf = realloc(b->buf, b->cap); }
    for (;;) {
        ssize_t r = recv(fd, b->buf + b->end, b->cap - b->end, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) die("recv");
        b->end += (size_t)r;
        return r;
    }
}

// Next whole frame in the buffer: returns 1 and sets *frame/*len (payload), or 0 when incomplete.
static int rb_frame(rbuf *b, const char **frame, uint32_t *len) {
    if (b->end - b->start < 4) return 0;
    uint32_t n = get_len(b->buf + b->start);
    if (b->end - b->start < 4 + (size_t)n) return 0;
    *frame = b->buf + b->start + 4; *len = n;
    b->start += 4 + n;
    return 1;
}

static int listen_ephemeral(void) {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    if (l < 0) die("socket");
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET; a.sin_addr.s_addr = inet_addr("127.0.0.1"); a.sin_port = 0;
    socklen_t len = sizeof a;
    if (bind(l, (struct sockaddr *)&a, len) < 0 || listen(l, 4) < 0 || getsockname(l, (struct sockaddr *)&a, &len) < 0)
        die("bind/listen");
    printf("port %d\n", ntohs(a.sin_port));
    fflush(stdout);
    return l;
}

static int serve(const char *mode, long count) {
    int l = listen_ephemeral();
    int fd = accept(l, NULL, NULL);
    if (fd < 0) die("accept");
    nodelay(fd);
    rbuf in; rb_init(&in, 256 * 1024);
    size_t outcap = 256 * 1024; char *out = malloc(outcap);
    long counted = 0;
    int sink = strcmp(mode, "sink") == 0;
    for (;;) {
        if (rb_fill(&in, fd) == 0) break;
        const char *f; uint32_t n; size_t used = 0;
        while (rb_frame(&in, &f, &n)) {
            if (sink) {
                if (++counted == count) { char ack[4]; put_len(ack, 0); write_all(fd, ack, 4); }
                continue;
            }
            if (used + 4 + n > outcap) { outcap = (used + 4 + n) * 2; out = realloc(out, outcap); }
            put_len(out + used, n); memcpy(out + used + 4, f, n); used += 4 + n;
        }
        if (used) write_all(fd, out, used);  // every whole frame of this read echoed in one write(2)
    }
    return 0;
}

static int connect_to(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET; a.sin_addr.s_addr = inet_addr("127.0.0.1"); a.sin_port = htons((uint16_t)port);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) die("connect");
    nodelay(fd);
    return fd;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *sorted, long n, double p) {
    long i = (long)(n * p);
    if (i >= n) i = n - 1;
    return sorted[i];
}

static int client_rtt(int fd, long calls, int size) {
    char *req = malloc(4 + size), *rep = malloc(4 + size);
    put_len(req, (uint32_t)size); memset(req + 4, 0x5A, size);
    double *s = malloc(sizeof(double) * calls);
    long warm = calls < 2000 ? calls : 2000;
    for (long i = 0; i < warm + calls; i++) {
        double t0 = now_us();
        write_all(fd, req, 4 + size);
        if (!read_all(fd, rep, 4)) die("eof");
        uint32_t n = get_len(rep);
        if (n != (uint32_t)size || !read_all(fd, rep + 4, n)) { fprintf(stderr, "bad reply\n"); return 1; }
        if (i >= warm) s[i - warm] = now_us() - t0;
    }
    qsort(s, calls, sizeof(double), cmp_double);
    printf("RESULT impl=c workload=rtt calls=%ld median_us=%.2f p99_us=%.2f p999_us=%.2f\n", calls,
           pct(s, calls, 0.5), pct(s, calls, 0.99), pct(s, calls, 0.999));
    return 0;
}

static int client_pipeline(int fd, long calls, int size, int depth) {
    size_t fl = 4 + (size_t)size;
    char *batch = malloc(fl * depth);
    for (int i = 0; i < depth; i++) { put_len(batch + i * fl, (uint32_t)size); memset(batch + i * fl + 4, 0x5A, size); }
    rbuf in; rb_init(&in, 256 * 1024);
    long sent = 0, done = 0;
    int first = depth < calls ? depth : (int)calls;
    double t0 = now_us();
    write_all(fd, batch, fl * first); sent = first;
    while (done < calls) {
        if (rb_fill(&in, fd) == 0) die("eof");
        const char *f; uint32_t n; int k = 0;
        while (rb_frame(&in, &f, &n)) { done++; k++; }
        long more = calls - sent; if (more > k) more = k;
        if (more > 0) { write_all(fd, batch, fl * more); sent += more; }
    }
    double el = (now_us() - t0) / 1e6;
    printf("RESULT impl=c workload=pipeline calls=%ld depth=%d calls_per_s=%.0f\n", calls, depth, calls / el);
    return 0;
}

static int client_stream(int fd, long count, int size) {
    size_t fl = 4 + (size_t)size;
    long per = (64 * 1024) / fl; if (per < 1) per = 1;
    char *batch = malloc(fl * per);
    for (long i = 0; i < per; i++) { put_len(batch + i * fl, (uint32_t)size); memset(batch + i * fl + 4, 0x33, size); }
    double t0 = now_us();
    long sent = 0;
    while (sent < count) {
        long k = count - sent; if (k > per) k = per;
        write_all(fd, batch, fl * k); sent += k;
    }
    char ack[4];
    if (!read_all(fd, ack, 4)) die("no ack");
    double el = (now_us() - t0) / 1e6;
    printf("RESULT impl=c workload=stream messages=%ld size=%d messages_per_s=%.0f\n", count, size, count / el);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 3 && strcmp(argv[1], "server") == 0)
        return serve(argv[2], argc > 3 ? atol(argv[3]) : 0);
    if (argc >= 6 && strcmp(argv[1], "client") == 0) {
        int fd = connect_to(atoi(argv[3]));
        long n = atol(argv[4]); int size = atoi(argv[5]);
        int rc;
        if (strcmp(argv[2], "rtt") == 0) rc = client_rtt(fd, n, size);
        else if (strcmp(argv[2], "pipeline") == 0) rc = client_pipeline(fd, n, size, argc > 6 ? atoi(argv[6]) : 64);
        else if (strcmp(argv[2], "stream") == 0) rc = client_stream(fd, n, size);
        else { fprintf(stderr, "unknown workload %s\n", argv[2]); return 2; }
        fflush(stdout);
        close(fd);
        return rc;
    }
    fprintf(stderr, "usage: anchor server echo|sink [COUNT] | anchor client rtt|pipeline|stream PORT N SIZE [DEPTH]\n");
    return 2;
}
