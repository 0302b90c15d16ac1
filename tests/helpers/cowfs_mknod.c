/*
 * cowfs_mknod: mknod(2) of a special file, printing "ok" or the errno name.
 *
 *   cowfs_mknod PATH fifo|sock|chr|blk|reg MODE [MAJOR MINOR]
 *
 * MODE is the octal permission part; the process umask applies.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "tests/common/helpers.h"

int main(int argc, char **argv)
{
	mode_t type;
	dev_t dev = 0;

	if (argc != 4 && argc != 6)
		tst_die(0, "usage: cowfs_mknod PATH TYPE MODE [MAJOR MINOR]");
	if (!strcmp(argv[2], "fifo"))
		type = S_IFIFO;
	else if (!strcmp(argv[2], "sock"))
		type = S_IFSOCK;
	else if (!strcmp(argv[2], "chr"))
		type = S_IFCHR;
	else if (!strcmp(argv[2], "blk"))
		type = S_IFBLK;
	else if (!strcmp(argv[2], "reg"))
		type = S_IFREG;
	else
		tst_die(0, "unknown type \"%s\"", argv[2]);
	if (argc == 6)
		dev = makedev((unsigned int)tst_parse_size(argv[4]),
			      (unsigned int)tst_parse_size(argv[5]));
	if (mknod(argv[1], type | (mode_t)strtoul(argv[3], NULL, 8), dev) < 0)
		printf("%s\n", tst_errname(errno));
	else
		printf("ok\n");
	return 0;
}
