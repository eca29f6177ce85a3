# bash completion for raftctl(8)                           -*- shell-script -*-
# Commands, subcommands, options, member names (asked of the cluster, with
# the endpoints and TLS files given so far) and journal event types.

_raftctl_members()
{
    local eps=()
    local i
    for ((i = 1; i < ${#words[@]}; i++)); do
        case ${words[i]} in
            --endpoints=*|--cacert=*|--cert=*|--key=*) eps+=("${words[i]}") ;;
            --endpoints|--cacert|--cert|--key) eps+=("${words[i]}" "${words[i + 1]}") ;;
        esac
    done
    raftctl "${eps[@]}" --timeout 1s -o json members list 2>/dev/null |
        sed -n 's/^ *"name": "\(.*\)",$/\1/p'
}

_raftctl()
{
    local cur prev words cword
    _init_completion || return

    local commands="status members get put delete compact watch lease lock elect snapshot endpoint leader logs bench check import-goraft wal wire"
    local globals="--endpoints --output -o --timeout --grpc --cacert --cert --key --help"
    local events="election membership snapshot wal peer lifecycle started stopping leader-elected
        term-changed member-joined member-left removed snapshot-taken snapshot-installed
        wal-recovered wal-truncated wal-failed peer-unreachable peer-back"

    case $prev in
        --endpoints|--grpc|--limit|--rev|--if-mod-rev|--lease|--ttl|--timeout|--since|--until|--rate|--duration|--requests|--clients|--keys|\
        --value-size|--prefix|--wait|--lines|--segment-size|--from|--to|--name|--advertise|-n|-c|-r|-d|-k|-s)
            return ;;
        -o|--output)
            COMPREPLY=($(compgen -W "table json" -- "$cur"))
            return ;;
        --event)
            COMPREPLY=($(compgen -W "$events" -- "$cur"))
            return ;;
        --op)
            COMPREPLY=($(compgen -W "put get delete" -- "$cur"))
            return ;;
        --load)
            COMPREPLY=($(compgen -W "s m l xl" -- "$cur"))
            return ;;
        --node)
            COMPREPLY=($(compgen -W "$(_raftctl_members)" -- "$cur"))
            return ;;
        --file)
            _filedir journal
            return ;;
        --cacert|--cert|--key)
            _filedir
            return ;;
        --directory)
            _filedir -d
            return ;;
    esac

    # the command: the first word that is not a global option or its value
    local i cmd="" sub="" ncmd=0
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
            --endpoints|--grpc|--timeout|-o|--output|--cacert|--cert|--key) ((i++)) ;;
            -*) ;;
            *)
                if [[ -z $cmd ]]; then
                    cmd=${words[i]}
                elif [[ -z $sub ]]; then
                    sub=${words[i]}
                fi
                ((ncmd++)) ;;
        esac
    done

    if [[ -z $cmd ]]; then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$globals" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$commands" -- "$cur"))
        fi
        return
    fi

    case $cmd in
        status)
            [[ $cur == -* ]] && COMPREPLY=($(compgen -W "--help" -- "$cur")) ||
                COMPREPLY=($(compgen -W "$(_raftctl_members)" -- "$cur")) ;;
        members)
            if [[ -z $sub ]]; then
                COMPREPLY=($(compgen -W "list add remove promote --help" -- "$cur"))
            elif [[ $sub == remove || $sub == promote ]]; then
                COMPREPLY=($(compgen -W "$(_raftctl_members)" -- "$cur"))
            elif [[ $sub == add && $cur == -* ]]; then
                COMPREPLY=($(compgen -W "--raftd --learner --help" -- "$cur"))
            fi ;;
        get)
            COMPREPLY=($(compgen -W "--local --node --consistent --prefix --from-key --limit --rev
                --keys-only --help" -- "$cur")) ;;
        put)
            COMPREPLY=($(compgen -W "--if-mod-rev --lease --verbose --help" -- "$cur")) ;;
        delete|del)
            COMPREPLY=($(compgen -W "--prefix --verbose --help" -- "$cur")) ;;
        compact)
            COMPREPLY=($(compgen -W "--physical --help" -- "$cur")) ;;
        watch)
            COMPREPLY=($(compgen -W "--prefix --rev --prev-kv --verbose --help" -- "$cur")) ;;
        lease)
            if [[ -z $sub ]]; then
                COMPREPLY=($(compgen -W "grant revoke keep-alive list ttl --help" -- "$cur"))
            elif [[ $sub == keep-alive ]]; then
                COMPREPLY=($(compgen -W "--once" -- "$cur"))
            elif [[ $sub == ttl ]]; then
                COMPREPLY=($(compgen -W "--keys" -- "$cur"))
            fi ;;
        lock)
            [[ $cur == -* && -z $sub ]] && COMPREPLY=($(compgen -W "--ttl --help" -- "$cur")) ;;
        elect)
            [[ $cur == -* ]] && COMPREPLY=($(compgen -W "--ttl --listen --help" -- "$cur")) ;;
        snapshot)
            if [[ -z $sub ]]; then
                COMPREPLY=($(compgen -W "take save restore --help" -- "$cur"))
            elif [[ $cur == -* && $sub == restore ]]; then
                COMPREPLY=($(compgen -W "--name --advertise --help" -- "$cur"))
            elif [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "--node --help" -- "$cur"))
            elif [[ $sub == save || $sub == restore ]]; then
                _filedir
            fi ;;
        leader)
            if [[ -z $sub ]]; then
                COMPREPLY=($(compgen -W "show transfer --help" -- "$cur"))
            elif [[ $sub == transfer ]]; then
                [[ $cur == -* ]] && COMPREPLY=($(compgen -W "--wait --help" -- "$cur")) ||
                    COMPREPLY=($(compgen -W "$(_raftctl_members)" -- "$cur"))
            fi ;;
        logs)
            [[ $cur == -* ]] &&
                COMPREPLY=($(compgen -W "--since --until --follow --lines --event --all --file --directory --help" -- "$cur")) ||
                COMPREPLY=($(compgen -W "$(_raftctl_members)" -- "$cur")) ;;
        bench)
            COMPREPLY=($(compgen -W "--clients --requests --duration --rate --keys --value-size --op
                --consistent --prefix --node --keep --help" -- "$cur")) ;;
        check)
            if [[ -z $sub ]]; then
                COMPREPLY=($(compgen -W "perf --help" -- "$cur"))
            else
                COMPREPLY=($(compgen -W "--load --duration --keys --keep --help" -- "$cur"))
            fi ;;
        import-goraft)
            [[ $cur == -* ]] && COMPREPLY=($(compgen -W "--segment-size --help" -- "$cur")) || _filedir -d ;;
        endpoint)
            [[ -z $sub ]] && COMPREPLY=($(compgen -W "health --help" -- "$cur")) ;;
        wal)
            if [[ -z $sub ]]; then
                COMPREPLY=($(compgen -W "dump verify --help" -- "$cur"))
            elif [[ $cur == -* && $sub == dump ]]; then
                COMPREPLY=($(compgen -W "--json --from --to --help" -- "$cur"))
            else
                _filedir -d
            fi ;;
        wire)
            if [[ -z $sub ]]; then
                COMPREPLY=($(compgen -W "decode vectors --help" -- "$cur"))
            else
                _filedir
            fi ;;
    esac
} &&
    complete -F _raftctl raftctl

# ex: filetype=sh
