# SPDX-License-Identifier: LGPL-2.1-or-later
# fish completion for mpvar(1)
#
# Variable names are read from the store: --dir, else $MP_DIR, else
# /dev/shm/mptools-UID (files var.NAME).

function __mpvar_store
    set -l tokens (commandline -opc)
    set -l dir
    for i in (seq (count $tokens))
        switch $tokens[$i]
            case --dir
                set dir $tokens[(math $i + 1)]
            case '--dir=*'
                set dir (string replace -- --dir= '' $tokens[$i])
        end
    end
    if test -z "$dir"
        if set -q MP_DIR; and test -n "$MP_DIR"
            set dir $MP_DIR
        else
            set dir /dev/shm/mptools-(id -u)
        end
    end
    echo $dir
end

function __mpvar_names
    for f in (__mpvar_store)/var.*
        test -f $f; and string replace -r '.*/var\.' '' -- $f
    end
end

# The verb, then its arguments, on the command line (words that are
# neither options nor options' values).
function __mpvar_words
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l skip 0
    for t in $tokens
        if test $skip = 1
            set skip 0
            continue
        end
        switch $t
            case -t -w -E --timeout --wait --conflict-exit-code --dir --default --init \
                --max-size --eq --ne --ge --gt --le --lt
                set skip 1
            case '-*'
            case '*'
                echo $t
        end
    end
end

function __mpvar_verb
    set -l w (__mpvar_words)
    test (count $w) -ge 1; and echo $w[1]
end

function __mpvar_wants_name
    test (count (__mpvar_words)) -eq 1
end

complete -c mpvar -f

# verbs
complete -c mpvar -n 'not __mpvar_verb' -a set -d 'set the value (- reads stdin)'
complete -c mpvar -n 'not __mpvar_verb' -a setnx -d 'set the value only if unset'
complete -c mpvar -n 'not __mpvar_verb' -a get -d 'print the value'
complete -c mpvar -n 'not __mpvar_verb' -a incr -d 'add N atomically; print the new value'
complete -c mpvar -n 'not __mpvar_verb' -a decr -d 'subtract N atomically; print the new value'
complete -c mpvar -n 'not __mpvar_verb' -a cas -d 'set NEW if the value is OLD'
complete -c mpvar -n 'not __mpvar_verb' -a unset -d 'make the variable unset'
complete -c mpvar -n 'not __mpvar_verb' -a wait -d 'wait until a condition holds'
complete -c mpvar -n 'not __mpvar_verb' -a dump -d 'print every variable'
complete -c mpvar -n 'not __mpvar_verb' -a create -d 'create the variable (unset)'
complete -c mpvar -n 'not __mpvar_verb' -a info -d 'show value, version and waiters'
complete -c mpvar -n 'not __mpvar_verb' -a ls -d 'list the variables in the store'
complete -c mpvar -n 'not __mpvar_verb' -a rm -d 'remove the variable (waiters exit 66)'

# variable names
complete -c mpvar -n '__mpvar_wants_name' -a '(__mpvar_names)' -d variable

# wait
set -l wait_cond 'not __mpvar_verb; or test (__mpvar_verb) = wait'
complete -c mpvar -n $wait_cond -l eq -x -d 'wait until the value is V'
complete -c mpvar -n $wait_cond -l ne -x -d 'wait until the value is not V (or unset)'
complete -c mpvar -n $wait_cond -l ge -x -d 'wait until the value is an integer >= N'
complete -c mpvar -n $wait_cond -l gt -x -d 'wait until the value is an integer > N'
complete -c mpvar -n $wait_cond -l le -x -d 'wait until the value is an integer <= N'
complete -c mpvar -n $wait_cond -l lt -x -d 'wait until the value is an integer < N'
complete -c mpvar -n $wait_cond -l set -d 'wait until the variable is set'
complete -c mpvar -n $wait_cond -l unset -d 'wait until the variable is unset'
complete -c mpvar -n $wait_cond -s n -l nonblock -d 'do not wait: exit 75 if it does not hold'
complete -c mpvar -n $wait_cond -s t -l timeout -x -d 'wait at most DURATION, then exit 124'
complete -c mpvar -n $wait_cond -s w -l wait -x -d 'alias of --timeout'
complete -c mpvar -n $wait_cond -s E -l conflict-exit-code -x -d 'exit N instead of 75 or 124'

# the other verbs' options
complete -c mpvar -n 'not __mpvar_verb; or contains -- (__mpvar_verb) get set setnx' -l raw -d 'get: no newline; set -: all of stdin'
complete -c mpvar -n 'not __mpvar_verb; or test (__mpvar_verb) = get' -l default -x -d 'print V if unset or missing'
complete -c mpvar -n 'not __mpvar_verb; or contains -- (__mpvar_verb) incr decr' -l init -x -d 'an unset variable starts at V'
complete -c mpvar -n 'not __mpvar_verb; or test (__mpvar_verb) = cas' -s p -l print -d 'print the current value when not swapped'
complete -c mpvar -n 'not __mpvar_verb; or contains -- (__mpvar_verb) create set setnx incr decr cas wait' -l max-size -x -d 'values of at most SIZE bytes'
complete -c mpvar -n 'not __mpvar_verb; or contains -- (__mpvar_verb) info ls dump' -l json -d 'machine-readable output'

# common options
complete -c mpvar -l dir -x -a '(__fish_complete_directories)' -d 'use the store DIR'
complete -c mpvar -s e -l existing -d 'a missing object is an error (66), not created'
complete -c mpvar -s q -l quiet -d 'no message when a wait times out or would block'
complete -c mpvar -s v -l verbose -d 'say what happens on stderr'
complete -c mpvar -s h -l help -d 'show help and exit'
complete -c mpvar -l usage -d 'show a short usage message and exit'
complete -c mpvar -s V -l version -d 'show the version and exit'
