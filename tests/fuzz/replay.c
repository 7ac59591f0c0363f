/*
 * replay: a main() for the libFuzzer harnesses of tests/fuzz/, so that they also build with
 * any C compiler (no libFuzzer) and run as ordinary programs over files: every seed of
 * tests/fuzz/corpus/NAME/ and every reproducer of tests/fuzz/regress/NAME/ (inputs that once
 * crashed, kept after the fix) goes through the harness's checks. Used by
 * tests/integration/fuzz_replay.t, under `make asan` with AddressSanitizer and UBSan.
 *
 * Usage: fuzz_NAME FILE|DIR...   Prints one TAP line per input; a failed check aborts the
 * program, which the caller sees as a crash (and TAP's plan is then short).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Harnesses that need set-up define it; libFuzzer calls it once before any input. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int ran;

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int one(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;

	if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		printf("not ok %d - %s: cannot read\n", ++ran, path);
		if (f)
			fclose(f);
		return -1;
	}
	buf = malloc(n ? (size_t)n : 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		printf("not ok %d - %s: cannot read\n", ++ran, path);
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	fflush(stdout);
	LLVMFuzzerTestOneInput(buf, (size_t)n); /* aborts on a failed check */
	printf("ok %d - %s (%ld bytes)\n", ++ran, path, n);
	free(buf);
	return 0;
}

static int walk(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *e;
	char **names = NULL;
	size_t nn = 0, cap = 0;
	int rc = 0;

	if (stat(path, &st) != 0)
		return 0; /* a harness without seeds or reproducers */
	if (!S_ISDIR(st.st_mode))
		return one(path);
	if (!(d = opendir(path)))
		return -1;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (nn == cap) {
			char **nv = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof(*nv));
			if (!nv)
				break;
			names = nv;
		}
		size_t len = strlen(path) + strlen(e->d_name) + 2;
		if (!(names[nn] = malloc(len)))
			break;
		snprintf(names[nn++], len, "%s/%s", path, e->d_name);
	}
	closedir(d);
	qsort(names, nn, sizeof(*names), cmp);
	for (size_t i = 0; i < nn; i++) {
		rc |= one(names[i]);
		free(names[i]);
	}
	free(names);
	return rc;
}

int main(int argc, char **argv)
{
	int rc = 0;

	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++)
		rc |= walk(argv[i]);
	printf("1..%d\n", ran);
	return rc ? 1 : 0;
}
