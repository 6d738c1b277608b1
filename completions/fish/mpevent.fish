# SPDX-License-Identifier: LGPL-2.1-or-later
# fish completion for mpevent(1)
#
# Event names are read from the store: --dir or --store, else $MP_STORE,
# else $MP_DIR, else /dev/shm/mptools-UID (files event.NAME).  "wait" takes
# several names.

function __mpevent_store
    set -l tokens (commandline -opc)
    set -l dir
    for i in (seq (count $tokens))
        switch $tokens[$i]
            case --dir --store
                set dir $tokens[(math $i + 1)]
            case '--dir=*'
                set dir (string replace -- --dir= '' $tokens[$i])
            case '--store=*'
                set dir (string replace -- --store= '' $tokens[$i])
        end
    end
    if test -z "$dir"
        if set -q MP_STORE; and test -n "$MP_STORE"
            set dir $MP_STORE
        else if set -q MP_DIR; and test -n "$MP_DIR"
            set dir $MP_DIR
        else
            set dir /dev/shm/mptools-(id -u)
        end
    end
    echo $dir
end

function __mpevent_names
    for f in (__mpevent_store)/event.*
        test -f $f; and string replace -r '.*/event\.' '' -- $f
    end
end

# The verb on the command line, if any (the first word that is neither an
# option nor an option's argument).
function __mpevent_verb
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l skip 0
    for t in $tokens
        if test $skip = 1
            set skip 0
            continue
        end
        switch $t
            case -t -w -E --timeout --wait --conflict-exit-code --dir --store
                set skip 1
            case '-*'
            case '*'
                echo $t
                return 0
        end
    end
    return 1
end

# Whether a name may come next: wait takes many, ls none, the others one.
function __mpevent_wants_name
    set -l verb (__mpevent_verb); or return 1
    switch $verb
        case wait
            return 0
        case ls
            return 1
    end
    set -l tokens (commandline -opc)
    set -l n 0
    set -l seen 0
    set -l skip 0
    for t in $tokens[2..-1]
        if test $skip = 1
            set skip 0
            continue
        end
        switch $t
            case -t -w -E --timeout --wait --conflict-exit-code --dir --store
                set skip 1
            case '-*'
            case '*'
                set n (math $n + 1)
        end
    end
    test $n -lt 2
end

complete -c mpevent -f

# verbs
complete -c mpevent -n 'not __mpevent_verb' -a set -d 'set the event; every waiter returns'
complete -c mpevent -n 'not __mpevent_verb' -a clear -d 'clear the event'
complete -c mpevent -n 'not __mpevent_verb' -a is-set -d 'exit 0 if set, 1 if clear'
complete -c mpevent -n 'not __mpevent_verb' -a wait -d 'wait until the event is set'
complete -c mpevent -n 'not __mpevent_verb' -a create -d 'create the event (clear)'
complete -c mpevent -n 'not __mpevent_verb' -a info -d 'show state, counts and waiters'
complete -c mpevent -n 'not __mpevent_verb' -a ls -d 'list the events in the store'
complete -c mpevent -n 'not __mpevent_verb' -a rm -d 'remove the event (waiters exit 66)'

# event names
complete -c mpevent -n '__mpevent_wants_name' -a '(__mpevent_names)' -d event

# wait options
set -l wait_cond 'not __mpevent_verb; or test (__mpevent_verb) = wait'
complete -c mpevent -n $wait_cond -l cleared -d 'wait for the event to be clear instead of set'
complete -c mpevent -n $wait_cond -l next -d 'wait for the next set (clear) after the call'
complete -c mpevent -n $wait_cond -l any -d 'several events: return when any fires; print its name'
complete -c mpevent -n $wait_cond -l all -d 'several events: return when every one has fired'
complete -c mpevent -n $wait_cond -s n -l nonblock -d 'do not wait: exit 75 if not as asked'
complete -c mpevent -n $wait_cond -s t -l timeout -x -d 'wait at most DURATION, then exit 124'
complete -c mpevent -n $wait_cond -s w -l wait -x -d 'alias of --timeout'
complete -c mpevent -n $wait_cond -s E -l conflict-exit-code -x -d 'exit N instead of 75 or 124'

# info and ls
set -l info_cond 'not __mpevent_verb; or contains -- (__mpevent_verb) info ls'
complete -c mpevent -n $info_cond -l json -d 'machine-readable output'

# common options
complete -c mpevent -l dir -x -a '(__fish_complete_directories)' -d 'use the store DIR'
complete -c mpevent -l store -x -a '(__fish_complete_directories) redis:// unix:///' -d 'use the store STORE: a directory or a Redis server URL'
complete -c mpevent -s e -l existing -d 'a missing object is an error (66), not created'
complete -c mpevent -s q -l quiet -d 'no message when a wait times out or would block'
complete -c mpevent -s v -l verbose -d 'say what happens on stderr'
complete -c mpevent -s h -l help -d 'show help and exit'
complete -c mpevent -l usage -d 'show a short usage message and exit'
complete -c mpevent -s V -l version -d 'show the version and exit'
