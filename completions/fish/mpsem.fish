# SPDX-License-Identifier: LGPL-2.1-or-later
# fish completion for mpsem(1)
#
# Semaphore names are read from the store: --dir or --store, else $MP_STORE,
# else $MP_DIR, else /dev/shm/mptools-UID (files sem.NAME); with --posix,
# the system's named POSIX semaphores (/dev/shm/sem.NAME).  After the
# semaphore name of "run", the rest of the line is the wrapped command and
# is completed as a command line of its own.

# Prints five lines about the words before the cursor: the verb ("-" if
# none yet), the semaphore name ("-" if none yet), the index where the
# wrapped command starts (0 if it has not started), whether the next word
# may be the command (1/0), and the directory the names are in.
function __mpsem_scan
    set -l tokens (commandline -opc)
    set -l verb -
    set -l name -
    set -l cmd 0
    set -l cstring 0
    set -l posix 0
    set -l dir $MP_DIR
    set -q MP_STORE; and test -n "$MP_STORE"; and set dir $MP_STORE
    set -l skip 0
    set -l argof
    for i in (seq 2 (count $tokens))
        set -l w $tokens[$i]
        if test $skip = 1
            contains -- "$argof" --dir --store; and set dir $w
            set skip 0
            continue
        end
        switch $w
            case --
                if test $name != -; and test $verb = run
                    set cmd (math $i + 1)
                    break
                end
            case '--dir=*'
                set dir (string replace -- --dir= '' $w)
            case '--store=*'
                set dir (string replace -- --store= '' $w)
            case --posix
                set posix 1
            case -t -w -E -c -j --timeout --wait --conflict-exit-code --command --jobs --value --owner --ttl --dir --store --lease
                set skip 1
                set argof $w
                contains -- $w -c --command; and set cstring 1
            case '-c*' '--command=*'
                set cstring 1
            case '-*'
            case '*'
                if test $verb = -
                    set verb $w
                else if test $name = -; and test $verb != ls
                    set name $w
                else if test $verb = run
                    set cmd $i
                    break
                end
        end
    end
    set -l next 0
    if test $cstring = 1
        set cmd 0
    else if test $cmd = 0; and test $skip = 0; and test $name != -; and test $verb = run
        set next 1
    end
    test -n "$dir"; or set dir /dev/shm/mptools-(id -u)
    test $posix = 1; and set dir /dev/shm
    printf '%s\n' $verb $name $cmd $next $dir
end

function __mpsem_names
    set -l s (__mpsem_scan)
    for f in $s[5]/sem.*
        test -f $f; and string replace -r '^.*/sem\.' '' -- $f
    end
end

# True before the wrapped command, when the verb is one of $argv ("-": no
# verb yet).
function __mpsem_verb
    set -l s (__mpsem_scan)
    test $s[3] = 0; and contains -- $s[1] $argv
end

# True when --posix is on the command line.
function __mpsem_posix
    contains -- --posix (commandline -opc)
end

# True where a semaphore name is expected.
function __mpsem_wants_name
    set -l s (__mpsem_scan)
    test $s[3] = 0; and test $s[1] != -; and test $s[1] != ls; and test $s[2] = -
end

# True where the wrapped command's first word is expected.
function __mpsem_wants_command
    set -l s (__mpsem_scan)
    test $s[4] = 1
    and not string match -q -- '-*' (commandline -ct)
end

# True inside the wrapped command's arguments.
function __mpsem_in_command
    set -l s (__mpsem_scan)
    test $s[3] != 0
end

# Completes the wrapped command line as if it stood alone.
function __mpsem_complete_command
    set -l s (__mpsem_scan)
    set -l tokens (commandline -opc)
    set -l cmdline (string escape -- $tokens[$s[3]..-1]) (commandline -ct)
    complete -C (string join -- ' ' $cmdline)
end

complete -c mpsem -f

# Verbs (with --posix, only those it supports) and semaphore names
complete -c mpsem -n '__mpsem_verb -' -a acquire -d 'Take a slot and exit, leaving it held'
complete -c mpsem -n '__mpsem_verb -' -a release -d 'Give back an acquired slot'
complete -c mpsem -n '__mpsem_verb -' -a value -d 'Print the number of free slots'
complete -c mpsem -n '__mpsem_verb -' -a create -d 'Create the semaphore'
complete -c mpsem -n '__mpsem_verb -' -a rm -d 'Remove the semaphore (waiters exit 66)'
complete -c mpsem -n '__mpsem_verb -; and not __mpsem_posix' -a run -d 'Run a command while holding a slot'
complete -c mpsem -n '__mpsem_verb -; and not __mpsem_posix' -a drain -d 'Wait until every slot is free'
complete -c mpsem -n '__mpsem_verb -; and not __mpsem_posix' -a info -d 'Show the state of the semaphore'
complete -c mpsem -n '__mpsem_verb -; and not __mpsem_posix' -a ls -d 'List the semaphores in the store'
complete -c mpsem -n __mpsem_wants_name -a '(__mpsem_names)' -d Semaphore

# The wrapped command
complete -c mpsem -n __mpsem_wants_command -a '(__fish_complete_command)'
complete -c mpsem -n __mpsem_in_command -a '(__mpsem_complete_command)'

# Options.  Spelled out for scripts that check this file against
# mpsem --help (fish writes them as "-l name"):
# --jobs --value --command --bg --owner --ttl --force --posix --nonblock --timeout --wait --conflict-exit-code --json --dir --store --lease --quiet --verbose --help --usage --version
complete -c mpsem -n '__mpsem_verb - run acquire create' -s j -l jobs -x -d 'Number of slots, fixed at creation (default 1)'
complete -c mpsem -n '__mpsem_verb - create' -l value -x -d 'Slots free at first (0 to N); the others held with no owner'
complete -c mpsem -n '__mpsem_verb - run' -s c -l command -x -d 'Run STRING with /bin/sh -c'
complete -c mpsem -n '__mpsem_verb - run' -l bg -d 'Start the command in the background holding a slot, and return'
complete -c mpsem -n '__mpsem_verb - run acquire drain' -s n -l nonblock -d 'Do not wait: exit 75 if busy'
complete -c mpsem -n '__mpsem_verb - run acquire drain' -s t -l timeout -x -d 'Wait at most DURATION, then exit 124 (0 = -n)'
complete -c mpsem -n '__mpsem_verb - run acquire drain' -s w -l wait -x -d 'Alias of --timeout (flock)'
complete -c mpsem -n '__mpsem_verb - run acquire drain' -s E -l conflict-exit-code -x -d 'Exit N instead of 75 or 124'
complete -c mpsem -n '__mpsem_verb - acquire release' -l owner -x -a 'none (__fish_complete_pids)' -d 'Who holds the slot (default: the calling shell)'
complete -c mpsem -n '__mpsem_verb - acquire run' -l ttl -x -d 'Give the slot back when DURATION has passed (run: end the command)'
complete -c mpsem -n '__mpsem_verb - release' -l force -d 'Release another owner\'s slot when the caller holds none'
complete -c mpsem -n '__mpsem_verb - acquire release value create rm' -l posix -d 'Use the named POSIX semaphore /NAME (no owners)'
complete -c mpsem -n '__mpsem_verb - info ls' -l json -d 'Machine-readable output'
complete -c mpsem -n '__mpsem_verb - run acquire release value drain create info ls rm' -l dir -x -a '(__fish_complete_directories)' -d 'Use the store DIR'
complete -c mpsem -n '__mpsem_verb - run acquire release value drain create info ls rm' -l store -x -a '(__fish_complete_directories) redis:// unix:///' -d 'Use the store STORE: a directory or a Redis server URL'
complete -c mpsem -n '__mpsem_verb - run acquire' -l lease -x -d 'A hold ends unless renewed within DURATION (Redis; pid namespaces)'
complete -c mpsem -n '__mpsem_verb - run acquire release value drain create info ls rm' -s q -l quiet -d 'No messages on stderr except errors'
complete -c mpsem -n '__mpsem_verb - run acquire release value drain create info ls rm' -s v -l verbose -d 'Say what happens on stderr; run --bg: print the pid'
complete -c mpsem -n '__mpsem_verb - run acquire release value drain create info ls rm' -s h -l help -d 'Show help and exit'
complete -c mpsem -n '__mpsem_verb - run acquire release value drain create info ls rm' -l usage -d 'Show a short usage message and exit'
complete -c mpsem -n '__mpsem_verb - run acquire release value drain create info ls rm' -s V -l version -d 'Show the version and exit'
