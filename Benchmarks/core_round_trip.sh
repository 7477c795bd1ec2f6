#!/usr/bin/env bash
# How far apart two cores are: the round trip of one cache line between a thread on core A and one on core B (default
# 0 and 1), in nanoseconds, the mean of 200,000 hand-offs. On the 2-core development VM (AMD EPYC, 2026-12-06) it reads
# 75-95 ns when the two virtual cores sit on one core complex (one L3) and 330-420 ns when the host has placed them on
# two; the placement changes by itself every few seconds to minutes. A CPU training step of LatentKit's runs 10-25%
# slower in the second case (docs/RESULTS.md, "Two cores that share no cache"), so timings taken on such a machine say
# which case they ran in. Usage: Benchmarks/core_round_trip.sh [A B]; needs a C compiler.
set -euo pipefail
a=${1:-0} b=${2:-1}
bin=$(mktemp)
trap 'rm -f "$bin"' EXIT
cc -O2 -pthread -x c -o "$bin" - << 'C'
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
enum { rounds = 200000 };
static _Atomic long line __attribute__((aligned(64)));
static int pin(int core) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(core, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}
static void *answer(void *core) {
    if (pin(*(int *)core)) { fprintf(stderr, "core_round_trip: cannot run on core %d\n", *(int *)core); exit(1); }
    for (long i = 0; i < rounds; i++) {
        while (atomic_load(&line) != 2 * i + 1) {}
        atomic_store(&line, 2 * i + 2);
    }
    return 0;
}
int main(int argc, char **argv) {
    int a = atoi(argv[1]), b = atoi(argv[2]);
    if (pin(a)) { fprintf(stderr, "core_round_trip: cannot run on core %d\n", a); return 1; }
    pthread_t other;
    pthread_create(&other, 0, answer, &b);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < rounds; i++) {
        atomic_store(&line, 2 * i + 1);
        while (atomic_load(&line) != 2 * i + 2) {}
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    pthread_join(other, 0);
    printf("cores %d and %d: round trip %.0f ns\n", a, b, ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / rounds);
    return 0;
}
C
"$bin" "$a" "$b"
