# SPDX-License-Identifier: LGPL-2.1-or-later
# fish completion for mplock(1)
#
# Lock names are read from the store: --dir or --store, else $MP_STORE, else
# $MP_DIR, else /dev/shm/mptools-UID (files lock.NAME).  After the lock name
# of "run" (or of the flock-style short form "mplock NAME CMD..."), the rest
# of the line is the wrapped command and is completed as a command line of
# its own.

# Prints five lines about the words before the cursor: the verb ("flock"
# for the short form, "-" if none yet), the lock name ("-" if none yet),
# the index where the wrapped command starts (0 if it has not started),
# whether the next word may be the command (1/0), and the store.
function __mplock_scan
    set -l tokens (commandline -opc)
    set -l verbs run acquire release is-locked create info ls rm
    set -l verb -
    set -l name -
    set -l cmd 0
    set -l cstring 0
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
                if test $name != -; and contains -- $verb run flock
                    set cmd (math $i + 1)
                    break
                end
            case '--dir=*'
                set dir (string replace -- --dir= '' $w)
            case '--store=*'
                set dir (string replace -- --store= '' $w)
            case -t -w -E -c --timeout --wait --conflict-exit-code --command --owner --ttl --dir --store --lease
                set skip 1
                set argof $w
                contains -- $w -c --command; and set cstring 1
            case '-c*' '--command=*'
                set cstring 1
            case '-*'
            case '*'
                if test $verb = -
                    if contains -- $w $verbs
                        set verb $w
                    else
                        set verb flock
                        set name $w
                    end
                else if test $name = -; and test $verb != ls
                    set name $w
                else if contains -- $verb run flock
                    set cmd $i
                    break
                end
        end
    end
    set -l next 0
    if test $cstring = 1
        set cmd 0
    else if test $cmd = 0; and test $skip = 0; and test $name != -; and contains -- $verb run flock
        set next 1
    end
    test -n "$dir"; or set dir /dev/shm/mptools-(id -u)
    printf '%s\n' $verb $name $cmd $next $dir
end

function __mplock_names
    set -l s (__mplock_scan)
    for f in $s[5]/lock.*
        test -f $f; and string replace -r '^.*/lock\.' '' -- $f
    end
end

# True before the wrapped command, when the verb is one of $argv ("-": no
# verb yet).
function __mplock_verb
    set -l s (__mplock_scan)
    test $s[3] = 0; and contains -- $s[1] $argv
end

# True where a lock name is expected.
function __mplock_wants_name
    set -l s (__mplock_scan)
    test $s[3] = 0; and test $s[1] != -; and test $s[1] != ls; and test $s[2] = -
end

# True where the wrapped command's first word is expected.
function __mplock_wants_command
    set -l s (__mplock_scan)
    test $s[4] = 1
    and not string match -q -- '-*' (commandline -ct)
end

# True inside the wrapped command's arguments.
function __mplock_in_command
    set -l s (__mplock_scan)
    test $s[3] != 0
end

# Completes the wrapped command line as if it stood alone.
function __mplock_complete_command
    set -l s (__mplock_scan)
    set -l tokens (commandline -opc)
    set -l cmdline (string escape -- $tokens[$s[3]..-1]) (commandline -ct)
    complete -C (string join -- ' ' $cmdline)
end

complete -c mplock -f

# Verbs and lock names
complete -c mplock -n '__mplock_verb -' -a run -d 'Run a command while holding the lock'
complete -c mplock -n '__mplock_verb -' -a acquire -d 'Take the lock and exit, leaving it held'
complete -c mplock -n '__mplock_verb -' -a release -d 'Give back an acquired lock'
complete -c mplock -n '__mplock_verb -' -a is-locked -d 'Exit 0 if the lock is held, 1 if not'
complete -c mplock -n '__mplock_verb -' -a create -d 'Create the lock'
complete -c mplock -n '__mplock_verb -' -a info -d 'Show the state of the lock'
complete -c mplock -n '__mplock_verb -' -a ls -d 'List the locks in the store'
complete -c mplock -n '__mplock_verb -' -a rm -d 'Remove the lock (waiters exit 66)'
complete -c mplock -n '__mplock_verb -' -a '(__mplock_names)' -d Lock
complete -c mplock -n __mplock_wants_name -a '(__mplock_names)' -d Lock

# The wrapped command
complete -c mplock -n __mplock_wants_command -a '(__fish_complete_command)'
complete -c mplock -n __mplock_in_command -a '(__mplock_complete_command)'

# Options.  Spelled out for scripts that check this file against
# mplock --help (fish writes them as "-l name"):
# --shared --exclusive --nonblock --timeout --wait --conflict-exit-code --command --owner --ttl --force --json --dir --store --lease --quiet --verbose --help --usage --version
complete -c mplock -n '__mplock_verb - run flock acquire' -s s -l shared -d 'Shared (read) lock: coexists with other shared holders'
complete -c mplock -n '__mplock_verb - run flock acquire' -s x -l exclusive -d 'Exclusive lock (default)'
complete -c mplock -n '__mplock_verb - run flock acquire' -s n -l nonblock -d 'Do not wait: exit 75 if busy'
complete -c mplock -n '__mplock_verb - run flock acquire' -s t -l timeout -x -d 'Wait at most DURATION, then exit 124 (0 = -n)'
complete -c mplock -n '__mplock_verb - run flock acquire' -s w -l wait -x -d 'Alias of --timeout (flock)'
complete -c mplock -n '__mplock_verb - run flock acquire' -s E -l conflict-exit-code -x -d 'Exit N instead of 75 or 124'
complete -c mplock -n '__mplock_verb - run flock' -s c -l command -x -d 'Run STRING with /bin/sh -c'
complete -c mplock -n '__mplock_verb - acquire release' -l owner -x -a 'none (__fish_complete_pids)' -d 'Who holds the lock (default: the calling shell)'
complete -c mplock -n '__mplock_verb - acquire run flock' -l ttl -x -d 'Release when DURATION has passed (run: end the command)'
complete -c mplock -n '__mplock_verb - release' -l force -d 'Release even when the caller is not the owner'
complete -c mplock -n '__mplock_verb - info ls' -l json -d 'Machine-readable output'
complete -c mplock -n '__mplock_verb - run flock acquire release is-locked create info ls rm' -l dir -x -a '(__fish_complete_directories)' -d 'Use the store DIR'
complete -c mplock -n '__mplock_verb - run flock acquire release is-locked create info ls rm' -l store -x -a '(__fish_complete_directories) redis:// unix:///' -d 'Use the store STORE: a directory or a Redis server URL'
complete -c mplock -n '__mplock_verb - run flock acquire' -l lease -x -d 'A hold ends unless renewed within DURATION (Redis; pid namespaces)'
complete -c mplock -n '__mplock_verb - run flock acquire release is-locked create info ls rm' -s q -l quiet -d 'No messages on stderr except errors'
complete -c mplock -n '__mplock_verb - run flock acquire release is-locked create info ls rm' -s v -l verbose -d 'Say what happens on stderr'
complete -c mplock -n '__mplock_verb - run flock acquire release is-locked create info ls rm' -s h -l help -d 'Show help and exit'
complete -c mplock -n '__mplock_verb - run flock acquire release is-locked create info ls rm' -l usage -d 'Show a short usage message and exit'
complete -c mplock -n '__mplock_verb - run flock acquire release is-locked create info ls rm' -s V -l version -d 'Show the version and exit'
