/*
 * test_shard: the shard of a target depends only on its key and the seed:
 * balanced across shards, case-insensitive for names, port-sensitive, and
 * stable (a fixed value pins the hash so a change of partition between
 * versions is noticed: shards of one scan must run the same version).
 */
#include "mxscan/shard.h"
#include "mxscan/target.h"
#include "tap.h"

static struct target parse(const char *line)
{
	struct target t;
	char err[128];
	if (target_parse_line(line, strlen(line), &t, err, sizeof(err)) != 1)
		memset(&t, 0, sizeof(t));
	return t;
}

int main(void)
{
	/* balance: 70,000 addresses over 7 shards, each within 3% of 10,000 */
	unsigned cnt[7] = { 0 };
	char line[64];
	for (unsigned i = 0; i < 70000; i++) {
		snprintf(line, sizeof(line), "10.%u.%u.%u:25", i >> 16, (i >> 8) & 255, i & 255);
		struct target t = parse(line);
		cnt[shard_of(&t, 7, 42)]++;
	}
	int balanced = 1;
	for (int k = 0; k < 7; k++)
		balanced &= cnt[k] > 9700 && cnt[k] < 10300;
	ok(balanced, "70,000 addresses over 7 shards: %u %u %u %u %u %u %u", cnt[0], cnt[1], cnt[2], cnt[3], cnt[4],
	   cnt[5], cnt[6]);

	struct target a = parse("Mail.Example.NET"), b = parse("mail.example.net");
	ok(shard_hash(&a, 9) == shard_hash(&b, 9), "names hash case-insensitively");
	struct target p25 = parse("192.0.2.7:25"), p465 = parse("192.0.2.7:465");
	ok(shard_hash(&p25, 9) != shard_hash(&p465, 9), "the port is part of the key");
	struct target csv = parse("192.0.2.7,mx.example.net,tag,25");
	ok(shard_hash(&csv, 9) == shard_hash(&p25, 9), "a CSV line shards like its ip:port (the name is only SNI)");
	ok(shard_hash(&p25, 1) != shard_hash(&p25, 2), "the seed changes the hash");
	struct target v6 = parse("[2001:db8::7]:25");
	ok(shard_hash(&v6, 9) != shard_hash(&p25, 9), "IPv6 keys hash");
	is_int(shard_of(&p25, 1, 5), 0, "one shard: always 0");
	/* pinned value: changing the hash changes every partition */
	struct target pin = parse("192.0.2.7:25");
	uint64_t h = shard_hash(&pin, 0);
	if (!ok(h == 0x9186b94d5857ee92ull, "shard_hash(192.0.2.7:25, seed 0) is the pinned value"))
		diag("got 0x%016llx", (unsigned long long)h);
	return done_testing();
}
