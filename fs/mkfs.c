/*
 * mkfs.c - mkfs.cowfs: creates an empty cowfs store.
 *
 *	mkfs.cowfs [--block-size N] [--force] STORE
 *
 * STORE is created if missing. An existing directory must be empty unless
 * --force is given; a store that a daemon is using is never replaced.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/store.h"
#include "fs/util.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mkfs.cowfs [--block-size N] [--force] STORE\n"
		"\n"
		"Creates an empty cowfs store in the directory STORE.\n"
		"\n"
		"  -b, --block-size N  block size: a power of two from 4K to 1M (default 64K)\n"
		"  -f, --force         use a non-empty directory, replacing an old store\n"
		"  -q, --quiet         print nothing on success\n"
		"  -h, --help          print this help\n"
		"  -V, --version       print the version\n");
}

int main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "block-size", required_argument, NULL, 'b' },
		{ "force", no_argument, NULL, 'f' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	uint64_t bs = STORE_DEFAULT_BLOCK_SIZE;
	bool force = false, quiet = false;
	char err[512];
	int c, rc;

	util_progname = "mkfs.cowfs";
	opterr = 0;
	while ((c = getopt_long(argc, argv, "b:fqhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'b':
			if (parse_size(optarg, &bs) || bs < 4096 ||
			    bs > (1 << 20) || (bs & (bs - 1))) {
				log_msg("block size \"%s\": must be a power of two from 4K to 1M",
					optarg);
				return 1;
			}
			break;
		case 'f':
			force = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("mkfs.cowfs %s (store format %d)\n",
			       PACKAGE_VERSION, META_FORMAT_VERSION);
			return 0;
		default:
			log_msg("unknown option \"%s\" (see --help)",
				argv[optind - 1]);
			return 1;
		}
	}
	if (optind != argc - 1) {
		log_msg(optind == argc ? "no store directory given (see --help)"
				       : "too many arguments (see --help)");
		return 1;
	}
	rc = store_create(argv[optind], (uint32_t)bs, force, getuid(),
			  getgid(), err, sizeof(err));
	if (rc) {
		log_msg("%s", err);
		return 1;
	}
	if (!quiet)
		printf("created cowfs store \"%s\": block size %llu, format %d\n",
		       argv[optind], (unsigned long long)bs,
		       META_FORMAT_VERSION);
	return 0;
}
