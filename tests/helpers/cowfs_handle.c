/*
 * cowfs_handle: file handles (name_to_handle_at, open_by_handle_at).
 *
 *   cowfs_handle save PATH         prints PATH's handle: TYPE:HEX
 *   cowfs_handle open MNT HANDLE   opens HANDLE (as printed by save) on
 *                                  the mount MNT and prints what it got
 *
 * open prints one line: "ESTALE" (or another errno name) when the handle
 * does not open, else the opened file's path relative to MNT, as
 * /proc/self/fd shows it (a directory is reconnected through its parents
 * and shows its whole path; a file the kernel no longer had cached stays
 * "(disconnected)"), and for a regular file its first line.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/common/helpers.h"

#define HANDLE_MAX 128

static int save(const char *path)
{
	struct file_handle *h = malloc(sizeof(*h) + HANDLE_MAX);
	int mount_id;

	if (!h)
		tst_die(1, "malloc");
	h->handle_bytes = HANDLE_MAX;
	if (name_to_handle_at(AT_FDCWD, path, h, &mount_id, 0) < 0)
		tst_die(1, "name_to_handle_at %s", path);
	printf("%d:", h->handle_type);
	for (unsigned i = 0; i < h->handle_bytes; i++)
		printf("%02x", h->f_handle[i]);
	printf("\n");
	free(h);
	return 0;
}

static int open_handle(const char *mnt, const char *text)
{
	struct file_handle *h = malloc(sizeof(*h) + HANDLE_MAX);
	char link[64], path[PATH_MAX], line[256];
	const char *hex = strchr(text, ':');
	size_t mlen = strlen(mnt);
	struct stat sb;
	ssize_t n;
	FILE *f;
	int mfd, fd;

	if (!h)
		tst_die(1, "malloc");
	if (!hex || strlen(hex + 1) % 2 || strlen(hex + 1) / 2 > HANDLE_MAX)
		tst_die(0, "bad handle \"%s\"", text);
	h->handle_type = atoi(text);
	h->handle_bytes = (unsigned)strlen(hex + 1) / 2;
	for (unsigned i = 0; i < h->handle_bytes; i++)
		if (sscanf(hex + 1 + 2 * i, "%2hhx", &h->f_handle[i]) != 1)
			tst_die(0, "bad handle \"%s\"", text);
	mfd = open(mnt, O_RDONLY | O_DIRECTORY);
	if (mfd < 0)
		tst_die(1, "open %s", mnt);
	fd = open_by_handle_at(mfd, h, O_RDONLY);
	free(h);
	if (fd < 0) {
		printf("%s\n", tst_errname(errno));
		return 0;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n < 0)
		tst_die(1, "readlink %s", link);
	path[n] = 0;
	if (strcmp(path, "/") == 0)
		printf("(disconnected)"); /* a file the kernel did not
					     reconnect to a name */
	else if (strncmp(path, mnt, mlen) == 0 && path[mlen] == '/')
		printf("%s", path + mlen + 1);
	else if (strcmp(path, mnt) == 0)
		printf(".");
	else
		printf("outside the mount: %s", path);
	if (fstat(fd, &sb) < 0)
		tst_die(1, "fstat");
	if (S_ISREG(sb.st_mode)) {
		f = fdopen(fd, "r");
		if (!f)
			tst_die(1, "fdopen");
		if (!fgets(line, sizeof(line), f))
			strcpy(line, "(empty)\n");
		printf(": %s", line);
		fclose(f);
	} else {
		printf("/\n");
		close(fd);
	}
	close(mfd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "save") == 0)
		return save(argv[2]);
	if (argc == 4 && strcmp(argv[1], "open") == 0)
		return open_handle(argv[2], argv[3]);
	fprintf(stderr, "usage: cowfs_handle save PATH | open MNT HANDLE\n");
	return 2;
}
