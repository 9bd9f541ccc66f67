%% Erlang anchor of Tests/Benchmarks/compare.sh: two distributed Erlang nodes on 127.0.0.1 (Debian's
%% erlang-base, default VM flags), what an Erlang engineer would write first:
%%   server:                  a gen_server registered as hanchor: call {echo, Bin} -> Bin; cast {msg, Bin} counted
%%   client(rtt, ...)         sequential gen_server:call, latency per call
%%   client(pipeline, ...)    DEPTH processes calling at once (DEPTH outstanding calls)
%%   client(stream, ...)      gen_server:cast one-way messages, timed until the server has counted them all
%% The client prints "RESULT impl=erlang workload=... key=value ...".
-module(hanchor).
-behaviour(gen_server).
-export([server/0, client/1, init/1, handle_call/3, handle_cast/2, handle_info/2]).

server() ->
    {ok, _} = gen_server:start({local, hanchor}, ?MODULE, [], []),
    io:format("ready~n"),
    receive stop -> ok end.

init([]) -> {ok, {0, 0, none}}.

handle_call({echo, Bin}, _From, S) -> {reply, Bin, S};
handle_call({expect, N, Pid}, _From, _S) -> {reply, ok, {0, N, Pid}}.

handle_cast({msg, _Bin}, {C, N, Pid}) ->
    C1 = C + 1,
    case C1 of
        N -> Pid ! counted;
        _ -> ok
    end,
    {noreply, {C1, N, Pid}}.

handle_info(_, S) -> {noreply, S}.

%% Args: [Workload, ServerNode, N, Size | Depth] as atoms (from -eval/-s).
client([Workload, Server, NA, SizeA | Rest]) ->
    N = list_to_integer(atom_to_list(NA)),
    Size = list_to_integer(atom_to_list(SizeA)),
    connect(Server, 100),
    Dest = {hanchor, Server},
    Bin = binary:copy(<<16#5A>>, Size),
    case Workload of
        rtt ->
            Warm = min(2000, N),
            [gen_server:call(Dest, {echo, Bin}) || _ <- lists:seq(1, Warm)],
            Samples = lists:sort([timed_call(Dest, Bin) || _ <- lists:seq(1, N)]),
            io:format("RESULT impl=erlang workload=rtt calls=~b median_us=~.2f p99_us=~.2f p999_us=~.2f~n",
                      [N, pct(Samples, N, 0.5), pct(Samples, N, 0.99), pct(Samples, N, 0.999)]);
        pipeline ->
            Depth = case Rest of [D] -> list_to_integer(atom_to_list(D)); _ -> 64 end,
            [gen_server:call(Dest, {echo, Bin}) || _ <- lists:seq(1, 2000)],
            Per = N div Depth,
            Self = self(),
            T0 = erlang:monotonic_time(nanosecond),
            Pids = [spawn_link(fun() -> [gen_server:call(Dest, {echo, Bin}) || _ <- lists:seq(1, Per)], Self ! {done, self()} end)
                    || _ <- lists:seq(1, Depth)],
            [receive {done, P} -> ok end || P <- Pids],
            El = (erlang:monotonic_time(nanosecond) - T0) / 1.0e9,
            io:format("RESULT impl=erlang workload=pipeline calls=~b depth=~b calls_per_s=~b~n",
                      [Per * Depth, Depth, round(Per * Depth / El)]);
        stream ->
            ok = gen_server:call(Dest, {expect, N, self()}),
            T0 = erlang:monotonic_time(nanosecond),
            [gen_server:cast(Dest, {msg, Bin}) || _ <- lists:seq(1, N)],
            receive counted -> ok after 120000 -> io:format("timeout~n"), halt(1) end,
            El = (erlang:monotonic_time(nanosecond) - T0) / 1.0e9,
            io:format("RESULT impl=erlang workload=stream messages=~b size=~b messages_per_s=~b~n",
                      [N, Size, round(N / El)])
    end,
    halt(0).

timed_call(Dest, Bin) ->
    T0 = erlang:monotonic_time(nanosecond),
    _ = gen_server:call(Dest, {echo, Bin}),
    (erlang:monotonic_time(nanosecond) - T0) / 1000.0.

pct(Sorted, N, P) -> lists:nth(min(N, trunc(N * P) + 1), Sorted).

connect(_Server, 0) -> io:format("cannot reach the server node~n"), halt(1);
connect(Server, Tries) ->
    case net_adm:ping(Server) of
        pong -> ok;
        pang -> timer:sleep(50), connect(Server, Tries - 1)
    end.
