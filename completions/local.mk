dist_bashcomp_DATA += completions/bash/mplock
dist_zshcomp_DATA += completions/zsh/_mplock
dist_fishcomp_DATA += completions/fish/mplock.fish
