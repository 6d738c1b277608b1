# SPDX-License-Identifier: LGPL-2.1-or-later
# fish completion for mpspawn(1)
#
# Group names (files spawn.NAME) and queue names (files queue.NAME) are read
# from the store: --dir or --store, else $MP_STORE, else $MP_DIR, else
# /dev/shm/mptools-UID.  The first word that is not an option or a verb, or
# the word after "--", starts the workers' command; the rest of the line is
# completed as a command line of its own.

# Prints four lines about the words before the cursor: the verb ("-" if
# none yet), the group name ("-" if none yet), the index where the workers'
# command starts (0 if it has not started), and the store.
function __mpspawn_scan
    set -l tokens (commandline -opc)
    set -l verbs ls status info wait kill is-alive rm beat
    set -l verb -
    set -l name -
    set -l cmd 0
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
                if test $verb = -
                    set cmd (math $i + 1)
                    break
                end
            case '--dir=*'
                set dir (string replace -- --dir= '' $w)
            case '--store=*'
                set dir (string replace -- --store= '' $w)
            case -j -c -t -w -k -E --jobs --name --command --timeout --wait --kill-after --signal --restart --max-restarts --heartbeat --ttl --owner --queue --dir --store --lease --conflict-exit-code --listen --backlog
                set skip 1
                set argof $w
            case '-*'
            case '*'
                if test $verb = -
                    if contains -- $w $verbs
                        set verb $w
                    else
                        set cmd $i
                        break
                    end
                else if test $name = -
                    set name $w
                end
        end
    end
    test -n "$dir"; or set dir /dev/shm/mptools-(id -u)
    printf '%s\n' $verb $name $cmd $dir
end

# __mpspawn_names KIND: the objects of that kind in the store.
function __mpspawn_names
    set -l s (__mpspawn_scan)
    for f in $s[4]/$argv[1].*
        test -f $f; and string replace -r "^.*/$argv[1]\\." '' -- $f
    end
end

# True before the workers' command, when the verb is one of $argv ("-": no
# verb yet).
function __mpspawn_verb
    set -l s (__mpspawn_scan)
    test $s[3] = 0; and contains -- $s[1] $argv
end

# True where a group name is expected.
function __mpspawn_wants_name
    set -l s (__mpspawn_scan)
    test $s[3] = 0; and contains -- $s[1] status info wait kill is-alive rm; and test $s[2] = -
end

# True inside the workers' command.
function __mpspawn_in_command
    set -l s (__mpspawn_scan)
    test $s[3] != 0
end

# Completes the workers' command line as if it stood alone.
function __mpspawn_complete_command
    set -l s (__mpspawn_scan)
    set -l tokens (commandline -opc)
    set -l cmdline (string escape -- $tokens[$s[3]..-1]) (commandline -ct)
    complete -C (string join -- ' ' $cmdline)
end

complete -c mpspawn -f

# Verbs, group names, the workers' command
complete -c mpspawn -n '__mpspawn_verb -' -a ls -d 'List the groups in the store'
complete -c mpspawn -n '__mpspawn_verb -' -a status -d 'Show each worker: pid, state, runtime, status'
complete -c mpspawn -n '__mpspawn_verb -' -a info -d 'Another name for status'
complete -c mpspawn -n '__mpspawn_verb -' -a wait -d 'Wait until the group is over'
complete -c mpspawn -n '__mpspawn_verb -' -a kill -d 'Send SIGTERM (or --signal SIG) to every worker'
complete -c mpspawn -n '__mpspawn_verb -' -a is-alive -d 'Exit 0 if the group is running'
complete -c mpspawn -n '__mpspawn_verb -' -a rm -d 'Remove the record of a group'
complete -c mpspawn -n '__mpspawn_verb -' -a beat -d '(In a worker) report that it is alive'
complete -c mpspawn -n '__mpspawn_verb -' -a '(__fish_complete_command)'
complete -c mpspawn -n __mpspawn_wants_name -a '(__mpspawn_names spawn)' -d Group
complete -c mpspawn -n __mpspawn_in_command -a '(__mpspawn_complete_command)'

# Options.  Spelled out for scripts that check this file against
# mpspawn --help (fish writes them as "-l name"):
# --jobs --name --command --tag --fail-fast --kill-after --signal --restart --max-restarts --heartbeat --daemon --owner --queue --stdin --keep-order --ttl --listen --backlog --progress --nonblock --timeout --wait --conflict-exit-code --json --existing --dir --store --lease --quiet --verbose --help --usage --version
set -l start '__mpspawn_verb -'
complete -c mpspawn -n $start -s j -l jobs -x -d 'Start N workers (default 1)'
complete -c mpspawn -n $start -l name -x -a '(__mpspawn_names spawn)' -d 'Name of the group (default spawn-PID)'
complete -c mpspawn -n $start -s c -l command -x -d 'Run STRING with /bin/sh -c'
complete -c mpspawn -n $start -l tag -d 'Prefix each output line with [ID] and write it whole'
complete -c mpspawn -n $start -l fail-fast -d 'End the other workers when one fails'
complete -c mpspawn -n '__mpspawn_verb - wait' -s t -l timeout -x -d 'Start: end the workers after DURATION; wait: wait at most DURATION'
complete -c mpspawn -n '__mpspawn_verb - wait' -s w -l wait -x -d 'Alias of --timeout'
complete -c mpspawn -n $start -s k -l kill-after -x -d 'SIGKILL what is left DURATION after an ending signal'
complete -c mpspawn -n '__mpspawn_verb - kill' -l signal -x -a 'TERM INT HUP QUIT KILL USR1 USR2 STOP CONT WINCH ALRM' -d 'Signal of kill, or of --timeout'
complete -c mpspawn -n $start -l restart -x -a 'on-failure no' -d 'Restart a worker that fails'
complete -c mpspawn -n $start -l max-restarts -x -d 'Restart each worker at most N times'
complete -c mpspawn -n $start -l heartbeat -x -d 'Report the group stale when a worker has not beaten for DURATION'
complete -c mpspawn -n $start -l daemon -d 'Return at once; the workers end when the caller exits'
complete -c mpspawn -n $start -l owner -x -a 'none (__fish_complete_pids)' -d '--daemon: end the workers when PID exits'
complete -c mpspawn -n $start -l queue -x -a '(__mpspawn_names queue)' -d 'A pool: run CMD once per message of the queue'
complete -c mpspawn -n $start -l stdin -d '--queue: give the message on standard input'
complete -c mpspawn -n $start -l keep-order -d '--queue: print the output in the order the messages were taken'
complete -c mpspawn -n $start -l ttl -x -d "--queue: end a message's command after DURATION (it fails, 124)"
complete -c mpspawn -n $start -l listen -x -a '0 127.0.0.1: 0.0.0.0: [::1]: [::]: unix:' -d 'A server: run CMD once per connection'
complete -c mpspawn -n $start -l backlog -x -d '--listen: connections waiting to be accepted'
complete -c mpspawn -n $start -l progress -d 'A progress line on stderr when it is a terminal'
complete -c mpspawn -n '__mpspawn_verb - wait' -s n -l nonblock -d 'Do not wait: exit 75 if running'
complete -c mpspawn -n '__mpspawn_verb - wait' -s E -l conflict-exit-code -x -d 'Exit N instead of 75 or 124'
complete -c mpspawn -n '__mpspawn_verb - status info ls' -l json -d 'Machine-readable output'
set -l any '__mpspawn_verb - ls status info wait kill is-alive rm beat'
complete -c mpspawn -n $any -l dir -x -a '(__fish_complete_directories)' -d 'Use the store DIR'
complete -c mpspawn -n $any -l store -x -a '(__fish_complete_directories) redis:// unix:///' -d 'Use the store STORE: a directory or a Redis server URL'
complete -c mpspawn -n $any -l lease -x -d 'Redis store: the group is lost when not renewed within DURATION'
complete -c mpspawn -s e -l existing -d 'a missing object is an error (66), not created'
complete -c mpspawn -n $any -s q -l quiet -d 'No messages for a group not running or still running'
complete -c mpspawn -n $any -s v -l verbose -d 'Say on stderr when workers fail or restart'
complete -c mpspawn -n $any -s h -l help -d 'Show help and exit'
complete -c mpspawn -n $any -l usage -d 'Show a short usage message and exit'
complete -c mpspawn -n $any -s V -l version -d 'Show the version and exit'
