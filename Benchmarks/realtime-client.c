// sb-bench-realtime-client: the subscribers and the publisher of scripts/bench-realtime. Not part of the server.
//
//   realtime-client PORTS TOKEN CONNECTIONS CONVERSATION VISITOR RATE COUNT TIMEOUT_SECONDS
//
// PORTS is one port, or several separated by commas (the servers of a cluster): connection i goes to
// the (i mod n)th, and the messages are posted to the first.
// Opens CONNECTIONS WebSocket connections to 127.0.0.1:PORT/ws and waits for each one's "ready" frame,
// posts one second of warm-up messages (RATE of them, not measured: a server's first message goes
// through cold caches, and at 100 messages a run its 1,000 deliveries alone would be the p99) and waits
// until every subscriber got them, prints "ready", then posts COUNT messages into CONVERSATION from
// VISITOR at RATE a second over one keep-alive HTTP connection, each carrying its CLOCK_REALTIME in
// nanoseconds taken just before the request is written, while two epoll threads read frames until
// COUNT × CONNECTIONS message frames arrived (or the timeout). It prints {"received": N, "p50_ms": X, "p99_ms": Y}. It does the least work
// per frame it can (no JSON parsing, one pass over the bytes), so that the latency measured is the
// server's: one Python process reading 1,000 sockets, and posting with httpx, measured its own queue.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { BUFFER = 1 << 18, THREADS = 2 };

struct connection {
    int fd;
    size_t used;
    unsigned char *buffer;
};

static long long expected;
static atomic_llong received;
static atomic_llong warmups_received;
static long long *latencies;
static atomic_llong latency_count;
static double deadline;

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static long long realtime_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void fail(const char *what) {
    fprintf(stderr, "realtime-client: %s: %s\n", what, strerror(errno));
    exit(1);
}

// The digits after "content":" in a message frame, or -1.
static long long content_ns(const unsigned char *payload, size_t length) {
    static const char key[] = "\"content\":\"";
    const unsigned char *found = memmem(payload, length, key, sizeof key - 1);
    if (!found) return -1;
    long long value = 0;
    for (const unsigned char *p = found + sizeof key - 1; p < payload + length && *p >= '0' && *p <= '9'; p++) value = value * 10 + (*p - '0');
    return value;
}

// Handles the complete frames at the start of the buffer; returns how many bytes they took, and sets
// *ready when a "ready" frame was among them (unless ready is NULL: once connected, none comes).
static size_t frames(struct connection *c, int *ready) {
    size_t offset = 0;
    for (;;) {
        unsigned char *p = c->buffer + offset;
        size_t left = c->used - offset;
        if (left < 2) break;
        size_t header = 2, length = p[1] & 0x7F;
        if (length == 126) {
            if (left < 4) break;
            length = (size_t)p[2] << 8 | p[3];
            header = 4;
        } else if (length == 127) {
            if (left < 10) break;
            length = 0;
            for (int i = 2; i < 10; i++) length = length << 8 | p[i];
            header = 10;
        }
        if (left < header + length) break;
        unsigned char *payload = p + header;
        if ((p[0] & 0x0F) == 0x1) {
            if (ready && memmem(payload, length, "\"type\":\"ready\"", 14)) {
                *ready = 1;
            } else if (memmem(payload, length, "\"action\":\"receive\"", 18)) {
                long long sent = content_ns(payload, length);
                if (sent > 0) {
                    long long slot = atomic_fetch_add(&latency_count, 1);
                    if (slot < expected) latencies[slot] = realtime_ns() - sent;
                    atomic_fetch_add(&received, 1);
                } else {
                    atomic_fetch_add(&warmups_received, 1);
                }
            }
        }
        offset += header + length;
    }
    return offset;
}

static void consume(struct connection *c, int *ready) {
    size_t taken = frames(c, ready);
    memmove(c->buffer, c->buffer + taken, c->used - taken);
    c->used -= taken;
}

static int dial(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) fail("socket");
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
    if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0) fail("connect");
    int on = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    return fd;
}

static int connect_one(int port, const char *token, struct connection *c) {
    c->fd = dial(port);
    char request[1024];
    int size = snprintf(request, sizeof request,
                        "GET /ws?token=%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                        token, port);
    if (write(c->fd, request, (size_t)size) != size) fail("write");
    c->buffer = malloc(BUFFER);
    c->used = 0;
    // The 101 answer, then frames until "ready" (blocking reads).
    int upgraded = 0, ready = 0;
    while (!ready) {
        ssize_t n = read(c->fd, c->buffer + c->used, BUFFER - c->used);
        if (n <= 0) fail("read during the handshake");
        c->used += (size_t)n;
        if (!upgraded) {
            unsigned char *end = memmem(c->buffer, c->used, "\r\n\r\n", 4);
            if (!end) continue;
            if (memcmp(c->buffer, "HTTP/1.1 101", 12) != 0) {
                fprintf(stderr, "realtime-client: the upgrade was refused: %.*s\n", (int)c->used, c->buffer);
                exit(1);
            }
            size_t headers = (size_t)(end + 4 - c->buffer);
            memmove(c->buffer, c->buffer + headers, c->used - headers);
            c->used -= headers;
            upgraded = 1;
        }
        consume(c, &ready);
    }
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    return 0;
}

struct worker {
    struct connection *connections;
    int count;
};

static void *run(void *argument) {
    struct worker *worker = argument;
    int poll = epoll_create1(0);
    for (int i = 0; i < worker->count; i++) {
        struct epoll_event event = {.events = EPOLLIN, .data.ptr = &worker->connections[i]};
        epoll_ctl(poll, EPOLL_CTL_ADD, worker->connections[i].fd, &event);
    }
    struct epoll_event events[256];
    while (atomic_load(&received) < expected && now_seconds() < deadline) {
        int ready = epoll_wait(poll, events, 256, 100);
        for (int i = 0; i < ready; i++) {
            struct connection *c = events[i].data.ptr;
            // One read per readiness: epoll is level-triggered, so whatever a read leaves is reported
            // again, and a second read to see EAGAIN would double the client's system calls.
            ssize_t n = read(c->fd, c->buffer + c->used, BUFFER - c->used);
            if (n > 0) {
                c->used += (size_t)n;
                consume(c, NULL);
            } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
                epoll_ctl(poll, EPOLL_CTL_DEL, c->fd, NULL);
            }
        }
    }
    return NULL;
}

// Posts `count` messages at `rate` a second and reads each answer, which must be 201. A message carries
// the time it is sent, or "warmup".
static void publish(int port, const char *token, const char *conversation, const char *visitor, double rate, long long count, int warmup) {
    int fd = dial(port);
    static char request[4096], answer[65536];
    double start = now_seconds();
    for (long long index = 0; index < count; index++) {
        double due = start + (double)index / rate, wait = due - now_seconds();
        if (wait > 0) {
            struct timespec pause = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
            nanosleep(&pause, NULL);
        }
        char body[512];
        char text[32];
        if (warmup) {
            snprintf(text, sizeof text, "warmup");
        } else {
            snprintf(text, sizeof text, "%lld", realtime_ns());
        }
        int length = snprintf(body, sizeof body, "{\"conversation_id\":\"%s\",\"from\":\"%s\",\"content\":\"%s\"}", conversation, visitor, text);
        int size = snprintf(request, sizeof request,
                            "POST /api/v1/messages HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Bearer %s\r\n"
                            "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
                            port, token, length, body);
        if (write(fd, request, (size_t)size) != size) fail("write of a message");
        // The answer: headers, then Content-Length bytes.
        size_t used = 0;
        char *end = NULL;
        while (!(end = memmem(answer, used, "\r\n\r\n", 4))) {
            ssize_t n = read(fd, answer + used, sizeof answer - used);
            if (n <= 0) fail("read of an answer");
            used += (size_t)n;
        }
        if (memcmp(answer, "HTTP/1.1 201", 12) != 0) {
            fprintf(stderr, "realtime-client: a message was refused: %.*s\n", (int)used, answer);
            exit(1);
        }
        *end = 0;
        char *field = strcasestr(answer, "\r\ncontent-length:");
        size_t headers = (size_t)(end + 4 - answer), content = field ? (size_t)atol(field + 17) : 0;
        *end = '\r';
        while (used < headers + content) {
            ssize_t n = read(fd, answer + used, sizeof answer - used);
            if (n <= 0) fail("read of an answer");
            used += (size_t)n;
        }
    }
    close(fd);
}

static int compare(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc != 9) {
        fprintf(stderr, "usage: realtime-client PORTS TOKEN CONNECTIONS CONVERSATION VISITOR RATE COUNT TIMEOUT_SECONDS\n");
        return 2;
    }
    enum { MAX_PORTS = 16 };
    int ports[MAX_PORTS], port_count = 0;
    for (char *part = strtok(argv[1], ","); part && port_count < MAX_PORTS; part = strtok(NULL, ",")) ports[port_count++] = atoi(part);
    int port = port_count ? ports[0] : 0, count = atoi(argv[3]);
    double rate = atof(argv[6]), timeout = atof(argv[8]);
    long long messages = atoll(argv[7]);
    expected = messages * count;
    for (int i = 0; i < port_count; i++) if (ports[i] <= 0) port = 0;
    if (port <= 0 || count <= 0 || rate <= 0 || messages <= 0 || timeout <= 0) {
        fprintf(stderr, "realtime-client: PORTS, CONNECTIONS, RATE, COUNT and TIMEOUT_SECONDS must be positive\n");
        return 2;
    }
    latencies = calloc((size_t)expected, sizeof *latencies);
    struct connection *connections = calloc((size_t)count, sizeof *connections);
    for (int i = 0; i < count; i++) connect_one(ports[i % port_count], argv[2], &connections[i]);
    deadline = now_seconds() + timeout;
    pthread_t threads[THREADS];
    struct worker workers[THREADS];
    for (int t = 0; t < THREADS; t++) {
        int first = count * t / THREADS, last = count * (t + 1) / THREADS;
        workers[t] = (struct worker){.connections = connections + first, .count = last - first};
        pthread_create(&threads[t], NULL, run, &workers[t]);
    }
    long long warmups = rate < 1 ? 1 : (long long)rate;
    publish(port, argv[2], argv[4], argv[5], rate, warmups, 1);
    while (atomic_load(&warmups_received) < warmups * count && now_seconds() < deadline) usleep(1000);
    printf("ready\n");
    fflush(stdout);
    publish(port, argv[2], argv[4], argv[5], rate, messages, 0);
    for (int t = 0; t < THREADS; t++) pthread_join(threads[t], NULL);
    long long measured = atomic_load(&latency_count);
    if (measured > expected) measured = expected;
    qsort(latencies, (size_t)measured, sizeof *latencies, compare);
    double p99 = measured ? (double)latencies[(measured * 99 + 99) / 100 - 1] / 1e6 : -1;
    double p50 = measured ? (double)latencies[(measured + 1) / 2 - 1] / 1e6 : -1;
    printf("{\"received\": %lld, \"p99_ms\": %.3f, \"p50_ms\": %.3f}\n", (long long)atomic_load(&received), p99, p50);
    return 0;
}
