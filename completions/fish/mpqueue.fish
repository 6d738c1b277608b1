# SPDX-License-Identifier: LGPL-2.1-or-later
# fish completion for mpqueue(1)
#
# Queue names are read from the store: --dir or --store, else $MP_STORE,
# else $MP_DIR, else /dev/shm/mptools-UID (files queue.NAME).  After the name
# of "put", words are messages: nothing is offered for them.

function __mpqueue_store
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

function __mpqueue_names
    for f in (__mpqueue_store)/queue.*
        test -f $f; and string replace -r '.*/queue\.' '' -- $f
    end
end

# The words after the program that are neither options nor their
# arguments: the verb, the name, then messages or a token.
function __mpqueue_words
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l skip 0
    set -l prev
    set -l nwords 0
    for t in $tokens
        if test $skip = 1
            set skip 0
            continue
        end
        # before the verb, "--lease 30s": the lease's length
        if test "$prev" = --lease; and test $nwords = 0; and string match -qr '^[0-9.]' -- $t
            set prev
            continue
        end
        set prev $t
        switch $t
            case -t -w -E --timeout --wait --conflict-exit-code --count --dir --store \
                --owner --ttl --max-items --max-bytes --max-msg
                set skip 1
            case '-*'
            case '*'
                set nwords (math $nwords + 1)
                echo $t
        end
    end
end

function __mpqueue_verb
    set -l w (__mpqueue_words)
    test (count $w) -ge 1; or return 1
    echo $w[1]
end

function __mpqueue_wants_name
    set -l w (__mpqueue_words)
    test (count $w) -eq 1; and test $w[1] != ls
end

complete -c mpqueue -f

# verbs
complete -c mpqueue -n 'not __mpqueue_verb' -a create -d 'create the queue with its limits'
complete -c mpqueue -n 'not __mpqueue_verb' -a put -d 'put messages (arguments, or lines of stdin)'
complete -c mpqueue -n 'not __mpqueue_verb' -a get -d 'take the next message(s) and print them'
complete -c mpqueue -n 'not __mpqueue_verb' -a ack -d 'acknowledge a message taken with get --lease'
complete -c mpqueue -n 'not __mpqueue_verb' -a task-done -d 'mark a message processed (task_done; alias: done)'
complete -c mpqueue -n 'not __mpqueue_verb' -a join -d 'wait until every message put is marked done'
complete -c mpqueue -n 'not __mpqueue_verb' -a close -d 'no more puts; getters drain, then exit 2'
complete -c mpqueue -n 'not __mpqueue_verb' -a reopen -d 'take puts again after close'
complete -c mpqueue -n 'not __mpqueue_verb; or test (__mpqueue_verb) = join' -l progress -d 'a progress line on stderr when it is a terminal'
complete -c mpqueue -n 'not __mpqueue_verb' -a size -d 'print the number of messages waiting'
complete -c mpqueue -n 'not __mpqueue_verb' -a is-empty -d 'exit 0 if no message is waiting'
complete -c mpqueue -n 'not __mpqueue_verb' -a is-full -d 'exit 0 if a put would wait for room'
complete -c mpqueue -n 'not __mpqueue_verb' -a info -d 'show the state and limits of the queue'
complete -c mpqueue -n 'not __mpqueue_verb' -a ls -d 'list the queues in the store'
complete -c mpqueue -n 'not __mpqueue_verb' -a rm -d 'remove the queue (waiters exit 66)'

# queue names
complete -c mpqueue -n '__mpqueue_wants_name' -a '(__mpqueue_names)' -d queue

# create
set -l create_cond 'not __mpqueue_verb; or test (__mpqueue_verb) = create'
complete -c mpqueue -n $create_cond -l max-items -x -d 'hold at most N messages (default 16384)'
complete -c mpqueue -n $create_cond -l max-bytes -x -d 'hold at most SIZE bytes (default 1M)'
complete -c mpqueue -n $create_cond -l max-msg -x -d 'refuse messages over SIZE (default 64K)'

# put and get
set -l pg_cond 'not __mpqueue_verb; or contains -- (__mpqueue_verb) put get'
complete -c mpqueue -n $pg_cond -s z -l null -d 'messages end with NUL instead of newline'
complete -c mpqueue -n $pg_cond -l raw -d 'put: stdin is one message; get: no separator'

# put
complete -c mpqueue -n 'not __mpqueue_verb; or test (__mpqueue_verb) = put' -l close -d 'close the queue once every message is in'

# get
set -l get_cond 'not __mpqueue_verb; or test (__mpqueue_verb) = get'
complete -c mpqueue -n 'not __mpqueue_verb; or contains -- (__mpqueue_verb) get task-done done' -l count -x -d 'up to N messages (task-done: N tasks)'
complete -c mpqueue -n $get_cond -l all -d 'every message there (waits for the first only)'
complete -c mpqueue -n $get_cond -l follow -d 'every message until closed and drained'
complete -c mpqueue -n $get_cond -l lease -d 'keep the message in flight until ack; --lease=D: hold length on Redis (default 10s)'
complete -c mpqueue -n $get_cond -l ttl -x -d 'with --lease: back after DURATION unless acked'

# get --lease and ack
set -l owner_cond 'not __mpqueue_verb; or contains -- (__mpqueue_verb) get ack'
complete -c mpqueue -n $owner_cond -l owner -x -a 'none (__fish_complete_pids)' -d 'the lease owner (default: the calling shell)'
complete -c mpqueue -n 'not __mpqueue_verb; or test (__mpqueue_verb) = ack' -l force -d 'acknowledge a lease of any owner'

# waiting verbs
set -l wait_cond 'not __mpqueue_verb; or contains -- (__mpqueue_verb) put get join'
complete -c mpqueue -n $wait_cond -s n -l nonblock -d 'do not wait: exit 75 if full or empty'
complete -c mpqueue -n $wait_cond -s t -l timeout -x -d 'wait at most DURATION, then exit 124'
complete -c mpqueue -n $wait_cond -s w -l wait -x -d 'alias of --timeout'
complete -c mpqueue -n $wait_cond -s E -l conflict-exit-code -x -d 'exit N instead of 75 or 124'

# info and ls
set -l info_cond 'not __mpqueue_verb; or contains -- (__mpqueue_verb) info ls'
complete -c mpqueue -n $info_cond -l json -d 'machine-readable output'

# common options
complete -c mpqueue -l dir -x -a '(__fish_complete_directories)' -d 'use the store DIR'
complete -c mpqueue -l store -x -a '(__fish_complete_directories) redis:// unix:///' -d 'use the store STORE: a directory or a Redis server URL'
complete -c mpqueue -s e -l existing -d 'a missing object is an error (66), not created'
complete -c mpqueue -s q -l quiet -d 'no messages for busy, timed out or closed'
complete -c mpqueue -s v -l verbose -d 'say what happens on stderr'
complete -c mpqueue -s h -l help -d 'show help and exit'
complete -c mpqueue -l usage -d 'show a short usage message and exit'
complete -c mpqueue -s V -l version -d 'show the version and exit'
