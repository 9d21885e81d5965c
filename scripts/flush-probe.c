/*
 * flush-probe: how this disk completes durable writes, outside the log.
 *
 * Each mode writes 16 KiB at advancing offsets of one pre-zeroed 256 MiB
 * file (as the log writes frames into a preallocated segment) and makes it
 * durable, for SECS seconds, then prints completions per second. It answers
 * the questions behind the log's "one commit in flight" (BENCHMARKS.md,
 * issue #14): does the device overlap flushes, and can one thread get that
 * overlap without handing work to another?
 *
 *   serial   pwrite + fdatasync in a loop (the log's inline writer)
 *   threads  DEPTH threads, each pwrite + fdatasync at its own offsets
 *   uring    one thread, DEPTH linked write + IORING_OP_FSYNC(DATASYNC)
 *            chains kept in flight through io_uring
 *   direct   O_DIRECT pwrite + fdatasync (no page cache writeback)
 *   dsync    O_DIRECT|O_DSYNC pwrite (the device's FUA, if it has one)
 *
 * Build and run (Debian: apt-get install -y gcc liburing-dev):
 *   gcc -O2 -o /tmp/flush-probe scripts/flush-probe.c -luring -lpthread
 *   /tmp/flush-probe /tmp/probe.dat serial 1 5
 *   /tmp/flush-probe /tmp/probe.dat threads 2 5
 *   /tmp/flush-probe /tmp/probe.dat uring 2 5
 * Alternate the modes a few times: this disk's speed moves by the minute.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BLOCK 16384L
#define FILE_BYTES (256L << 20)

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static int fd;
static double secs;
static char *buf;
static long counts[64];
static int depth;

static void die(const char *what) {
    perror(what);
    exit(1);
}

/* A thread of `threads`: its own slice of the file, so writes never meet. */
static void *writer(void *arg) {
    long i = (long)arg;
    long slice = FILE_BYTES / depth, off = 0;
    double t0 = now();
    while (now() - t0 < secs) {
        if (pwrite(fd, buf, BLOCK, i * slice + off) != BLOCK) die("pwrite");
        off = (off + BLOCK) % (slice - BLOCK);
        if (fdatasync(fd)) die("fdatasync");
        counts[i]++;
    }
    return NULL;
}

static long direct(const char *path, int flags) {
    long n = 0, off = 0;
    int dfd = open(path, O_WRONLY | O_DIRECT | flags);
    if (dfd < 0) die("open O_DIRECT");
    double t0 = now();
    while (now() - t0 < secs) {
        if (pwrite(dfd, buf, BLOCK, off) != BLOCK) die("pwrite O_DIRECT");
        off = (off + BLOCK) % FILE_BYTES;
        if (!(flags & O_DSYNC) && fdatasync(dfd)) die("fdatasync");
        n++;
    }
    close(dfd);
    return n;
}

static long uring(void) {
    struct io_uring ring;
    if (io_uring_queue_init(2 * depth + 2, &ring, 0)) die("io_uring_queue_init");
    long n = 0, off = 0;
    int inflight = 0;
    double t0 = now();
    while (inflight || now() - t0 < secs) {
        while (inflight < depth && now() - t0 < secs) {
            struct io_uring_sqe *w = io_uring_get_sqe(&ring);
            io_uring_prep_write(w, fd, buf, BLOCK, off);
            w->flags |= IOSQE_IO_LINK;
            w->user_data = 0;
            struct io_uring_sqe *s = io_uring_get_sqe(&ring);
            io_uring_prep_fsync(s, fd, IORING_FSYNC_DATASYNC);
            s->user_data = 1;
            off = (off + BLOCK) % FILE_BYTES;
            inflight++;
            io_uring_submit(&ring);
        }
        struct io_uring_cqe *c;
        if (io_uring_wait_cqe(&ring, &c)) die("io_uring_wait_cqe");
        if (c->res < 0) {
            fprintf(stderr, "io_uring: %s\n", strerror(-c->res));
            exit(1);
        }
        if (c->user_data == 1) {
            inflight--;
            n++;
        }
        io_uring_cqe_seen(&ring, c);
    }
    io_uring_queue_exit(&ring);
    return n;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s FILE serial|threads|uring|direct|dsync [DEPTH] [SECS]\n", argv[0]);
        return 2;
    }
    const char *path = argv[1], *mode = argv[2];
    depth = argc > 3 ? atoi(argv[3]) : 1;
    secs = argc > 4 ? atof(argv[4]) : 5;
    if (depth < 1 || depth > 64) depth = 1;

    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) die("open");
    /* Zeros written and synced first: the blocks are allocated and written,
     * so a durable write needs no extent conversion (as the log's
     * preallocated segments). */
    char *zeros = calloc(1, 1 << 20);
    for (long i = 0; i < FILE_BYTES >> 20; i++)
        if (write(fd, zeros, 1 << 20) != 1 << 20) die("write zeros");
    if (fsync(fd)) die("fsync");
    free(zeros);
    if (posix_memalign((void **)&buf, 4096, BLOCK)) die("posix_memalign");
    memset(buf, 'x', BLOCK);

    long n = 0;
    double t0 = now();
    if (!strcmp(mode, "serial")) {
        depth = 1;
        pthread_t t;
        pthread_create(&t, NULL, writer, (void *)0);
        pthread_join(t, NULL);
        n = counts[0];
    } else if (!strcmp(mode, "threads")) {
        pthread_t t[64];
        for (long i = 0; i < depth; i++) pthread_create(&t[i], NULL, writer, (void *)i);
        for (int i = 0; i < depth; i++) {
            pthread_join(t[i], NULL);
            n += counts[i];
        }
    } else if (!strcmp(mode, "uring")) {
        n = uring();
    } else if (!strcmp(mode, "direct")) {
        n = direct(path, 0);
    } else if (!strcmp(mode, "dsync")) {
        n = direct(path, O_DSYNC);
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    double elapsed = now() - t0;
    printf("%-8s depth %d: %ld durable writes in %.2f s = %.0f/s (%.1f us apart)\n", mode, depth, n,
           elapsed, n / elapsed, elapsed / n * 1e6);
    close(fd);
    unlink(path);
    return 0;
}
