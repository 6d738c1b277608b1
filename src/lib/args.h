/* args.h - the command-line parser of the tools: the part of glibc's argp
 * that they use (options in groups, a child for the common options,
 * arguments in order, --help, --usage, --version), written for any C
 * library, so that the tools can be linked with musl as well as glibc.
 *
 * The shape follows argp: a parser function gets each option's key and
 * argument, MP_ARGP_KEY_ARG for each argument in order, MP_ARGP_KEY_INIT
 * before and MP_ARGP_KEY_END after; "--" ends the options.  A parser may
 * set state->next to state->argc to stop at a command to run.  Errors
 * print "PROG: MESSAGE" and a hint on stderr and exit mp_argp_err_exit_status.
 */
#ifndef MP_ARGS_H
#define MP_ARGS_H

#include <stdio.h>

struct mp_argp_state;

typedef int (*mp_argp_parser_t)(int key, char *arg, struct mp_argp_state *state);

struct mp_argp_option {
	const char *name;	/* long name, or NULL */
	int key;		/* the short option when printable, else a number */
	const char *arg;	/* name of its argument, or NULL: none */
	int flags;		/* MP_OPTION_* */
	const char *doc;
	int group;		/* --help lists by group; 0: the previous one's */
};

#define MP_OPTION_ARG_OPTIONAL 0x1	/* --name[=ARG], -kARG */
#define MP_OPTION_HIDDEN 0x2		/* not in --help */

struct mp_argp_child;

struct mp_argp {
	const struct mp_argp_option *options;	/* ends with an all-zero entry */
	mp_argp_parser_t parser;
	const char *args_doc;	/* usage lines after "PROG [OPTION...]", by \n */
	const char *doc;	/* before the options; after a \v: after them */
	const struct mp_argp_child *children;	/* ends with { 0 } */
};

struct mp_argp_child {
	const struct mp_argp *argp;
	int flags;		/* unused */
	const char *header;	/* heading of its options in --help */
	int group;
};

struct mp_argp_state {
	const struct mp_argp *root_argp;
	int argc;
	char **argv;
	int next;		/* index of the next element of argv to parse */
	void *child_inputs[4];	/* as in argp; the tools' children take none */
	const char *name;	/* program name in messages */
};

#define MP_ARGP_KEY_ARG 0
#define MP_ARGP_KEY_END 0x1000001
#define MP_ARGP_KEY_INIT 0x1000003
#define MP_ARGP_ERR_UNKNOWN 7	/* E2BIG, as in argp */

/* Prints --version (set by the tool), and the exit status of usage errors. */
extern void (*mp_argp_version_hook)(FILE *f, struct mp_argp_state *state);
extern int mp_argp_err_exit_status;

/* Parses argv; exits on a usage error, after --help, --usage, --version. */
void mp_argp_parse(const struct mp_argp *argp, int argc, char **argv);

/* Prints "PROG: MESSAGE" and the hint, and exits mp_argp_err_exit_status. */
void mp_argp_error(const struct mp_argp_state *state, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

/* Prints the full help on stdout and exits 0. */
void mp_argp_help(const struct mp_argp_state *state) __attribute__((noreturn));

#endif
