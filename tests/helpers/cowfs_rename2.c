/*
 * cowfs_rename2: renameat2(2) with the named flag, printing "ok" or the
 * errno name.
 *
 *   cowfs_rename2 none|noreplace|exchange|whiteout OLD NEW
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "tests/common/helpers.h"

int main(int argc, char **argv)
{
	unsigned int flags;
	int rc;

	if (argc != 4)
		tst_die(0, "usage: cowfs_rename2 none|noreplace|exchange|whiteout OLD NEW");
	if (!strcmp(argv[1], "none"))
		flags = 0;
	else if (!strcmp(argv[1], "noreplace"))
		flags = RENAME_NOREPLACE;
	else if (!strcmp(argv[1], "exchange"))
		flags = RENAME_EXCHANGE;
	else if (!strcmp(argv[1], "whiteout"))
		flags = RENAME_WHITEOUT;
	else
		tst_die(0, "unknown flag \"%s\"", argv[1]);
	rc = renameat2(AT_FDCWD, argv[2], AT_FDCWD, argv[3], flags);
	if (rc < 0)
		printf("%s\n", tst_errname(errno));
	else
		printf("ok\n");
	return 0;
}
