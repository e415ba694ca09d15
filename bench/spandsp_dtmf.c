/* DTMF detection anchor for bench/dtmf.sh: spandsp's dtmf_rx on the same
 * 8 kHz signals pbxgate's benchmark writes (raw s16le files named on the
 * command line), fed in 160-sample frames. Prints, per file, Msamples/s
 * in CPU time of this thread (best of 5 rounds of >= 0.4 s) and the
 * digits spandsp reported in one pass, so both detectors are seen to do
 * the same work. */
#include <spandsp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static long digits_seen;

static void on_digits(void *user, const char *digits, int len)
{
    (void) user;
    (void) digits;
    digits_seen += len;
}

static void run_once(dtmf_rx_state_t *rx, const int16_t *x, size_t n)
{
    for (size_t i = 0; i < n; i += 160) {
        size_t k = n - i < 160 ? n - i : 160;
        dtmf_rx(rx, x + i, (int) k);
    }
}

int main(int argc, char **argv)
{
    for (int a = 1; a < argc; a++) {
        FILE *f = fopen(argv[a], "rb");
        if (!f) {
            perror(argv[a]);
            return 1;
        }
        static int16_t x[8000 * 10];
        size_t n = fread(x, sizeof x[0], sizeof x / sizeof x[0], f);
        fclose(f);
        dtmf_rx_state_t *rx = dtmf_rx_init(NULL, on_digits, NULL);
        digits_seen = 0;
        run_once(rx, x, n);
        long one_pass = digits_seen;
        double best = 1e30;
        for (int r = 0; r < 5; r++) {
            double start = thread_cpu();
            long rounds = 0;
            while (thread_cpu() - start < 0.4) {
                run_once(rx, x, n);
                rounds++;
            }
            double per = (thread_cpu() - start) / rounds;
            if (per < best)
                best = per;
        }
        printf("%s %.1f Msamples/s digits=%ld\n", argv[a], n / best / 1e6, one_pass);
        dtmf_rx_free(rx);
    }
    return 0;
}
