# SPDX-License-Identifier: LGPL-2.1-or-later
# fish completion for mptools(1)

function __mptools_verb
    for t in (commandline -opc)[2..-1]
        switch $t
            case ls gc version
                echo $t
                return 0
        end
    end
    return 1
end

complete -c mptools -f
complete -c mptools -n 'not __mptools_verb' -a ls -d 'every object of every kind, in one table'
complete -c mptools -n 'not __mptools_verb' -a gc -d 'remove what nobody uses and nobody changed for --older-than'
complete -c mptools -n 'not __mptools_verb' -a version -d 'print the version'

complete -c mptools -n 'not __mptools_verb; or test (__mptools_verb) = ls' -l json -d 'a JSON array'
complete -c mptools -n 'not __mptools_verb; or test (__mptools_verb) = ls' -l watch -d 'print again every DURATION (default 2s)'
complete -c mptools -n 'not __mptools_verb; or test (__mptools_verb) = gc' -l older-than -x -d 'remove what nobody used for DURATION'
complete -c mptools -n 'not __mptools_verb; or test (__mptools_verb) = gc' -l dry-run -d 'print what would be removed'

complete -c mptools -l dir -x -a '(__fish_complete_directories)' -d 'use the store DIR'
complete -c mptools -l store -x -a '(__fish_complete_directories) redis:// unix:///' -d 'use the store STORE'
complete -c mptools -s e -l existing -d 'a missing object is an error (66), not created'
complete -c mptools -s n -l nonblock -d 'accepted; nothing here waits'
complete -c mptools -s t -l timeout -x -d 'accepted; nothing here waits'
complete -c mptools -s w -l wait -x -d 'accepted; nothing here waits'
complete -c mptools -s E -l conflict-exit-code -x -d 'accepted; nothing here waits'
complete -c mptools -s q -l quiet -d 'print no warnings'
complete -c mptools -s v -l verbose -d 'say what happens on stderr'
complete -c mptools -s h -l help -d 'show help and exit'
complete -c mptools -l usage -d 'show a short usage message and exit'
complete -c mptools -s V -l version -d 'show the version and exit'
