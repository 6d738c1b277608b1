/* t-owner - drives src/lib/owner.c.
 *   t-owner alive PID [START]     prints 1 or 0 (START: override start time)
 *   t-owner zombie                forks a child that exits unreaped; prints
 *                                 "alive-before dead-after" as 1/0 pairs
 *   t-owner start PID             prints the start time of PID
 */
#include "config.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/owner.h"

int main(int argc, char **argv)
{
	struct mp_owner o;

	if (argc >= 3 && !strcmp(argv[1], "alive")) {
		int rc = mp_owner_of(atoi(argv[2]), &o);
		if (rc) {
			puts("0");
			return 0;
		}
		if (argc == 4)
			o.start = strtoull(argv[3], NULL, 10);
		printf("%d\n", mp_owner_alive(&o));
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "start")) {
		if (mp_owner_of(atoi(argv[2]), &o))
			return 1;
		printf("%" PRIu64 "\n", o.start);
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "zombie")) {
		int pipefd[2];
		char c, st;
		uint64_t start;
		pid_t pid;

		if (pipe(pipefd))
			return 2;
		pid = fork();
		if (pid == 0) {
			read(pipefd[0], &c, 1);	/* wait until our identity was taken */
			_exit(0);
		}
		if (mp_owner_of(pid, &o))
			return 2;
		printf("%d ", mp_owner_alive(&o));
		write(pipefd[1], "x", 1);
		/* wait until the child is a zombie, without reaping it */
		for (int i = 0; i < 500; i++) {
			if (mp_proc_stat(pid, &st, &start) == 0 && st == 'Z')
				break;
			usleep(10000);
		}
		printf("%d\n", mp_owner_alive(&o));
		waitpid(pid, NULL, 0);
		return 0;
	}
	fprintf(stderr, "usage: t-owner alive PID [START] | start PID | zombie\n");
	return 2;
}
