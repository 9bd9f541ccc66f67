@testable import ActorCluster

/// A simulated network of `Membership.Machine`s on a virtual clock (ns): no sockets, no sleeps, no threads.
/// Everything random (latency, loss, uids, each machine's own seed) comes from one `SplitMix64` seed, so a run
/// replays exactly; failures print the seed.
///
/// The network model:
/// - every message takes a uniform random latency in `latencyNs`, and is lost with probability `loss`;
/// - a partition (`partition(_:)`) silently drops messages between sides (like a black-holed route);
/// - the first message between two processes opens a "connection": both get `.associated(peer)` with it;
/// - `crash` stops a process: its connections break (peers get `.connectionLost` after one latency) and every
///   later send to its address reports `.unreachable(refused: true)` back to the sender (nothing listens);
/// - `pause` stops a process without closing anything: sends to it vanish, it neither answers nor ticks;
///   `resume` lets it run again (its timers fire at once, late);
/// - `restart` puts a new process (new uid) at a crashed slot's address;
/// - `starve(slot, byMs:)` delivers that machine's ticks X ms after the wakeup it asked for (optionally its
///   inbound messages too);
/// - a machine that reports itself `removed` (graceful leave) has exited: treated like a crash from then on.
/// A message addressed to a uid that no longer listens at its address is not delivered; the handshake tells
/// the sender who listens there instead (`.associated` with the new identity).
final class MembershipSimulation {
    enum ProcessState: Equatable { case running, paused, crashed, exited }

    struct Process {
        var machine: Membership.Machine
        var state: ProcessState
        var identity: NodeIdentity { machine.myself.node }
    }

    /// One recorded event: when, at which slot and process, what.
    struct Observation {
        let timeNs: UInt64
        let slot: Int
        let observer: NodeIdentity
        let event: Membership.Event
    }

    private enum Kind {
        case deliver(slot: Int, uid: UInt64, input: Membership.Input)
        case wake(slot: Int, generation: UInt64)
    }

    private struct Scheduled {
        let timeNs: UInt64
        let order: UInt64
        let kind: Kind
        static func < (a: Scheduled, b: Scheduled) -> Bool { (a.timeNs, a.order) < (b.timeNs, b.order) }
    }

    let seed: UInt64
    var rng: SplitMix64
    var settings: Membership.Settings
    /// Message latency range, ns.
    var latencyNs: ClosedRange<UInt64> = 200_000...1_000_000
    /// Probability that a delivered message is lost.
    var loss: Double = 0
    /// Virtual time, ns (starts at 1 s so that "0" never means "unset").
    private(set) var nowNs: UInt64 = 1_000_000_000
    private(set) var processes: [Process] = []
    private(set) var observations: [Observation] = []
    private(set) var steps = 0
    /// Sees every input a running process is about to handle (debugging).
    var trace: ((Int, Membership.Input) -> Void)?
    /// Broken invariants, checked after every input: the machine must not ask to be woken at or before the
    /// time it was just given (it would spin), each `memberChanged` must start from the status it last
    /// reported for that member (no duplicated or skipped transitions), and (up to 64 processes) its
    /// incremental count of reachable agreed members must match a recount. Capped.
    private(set) var violations: [String] = []
    /// Last status each process reported per member (starting from the table it was created with).
    private var reported: [UInt64: [NodeIdentity: Membership.Status]] = [:]
    private(set) var messagesSent = 0

    private var heap: [Scheduled] = []
    private var order: UInt64 = 0
    private var slotByAddress: [NodeAddress: Int] = [:]
    private var wakeGeneration: [UInt64] = []
    private var scheduledWake: [UInt64] = []
    private var starveNs: [UInt64] = []
    private var inboundDelayNs: [UInt64] = []
    private var side: [Int] = []
    private var partitioned = false
    /// Open connections: uid → peer uids.
    private var connections: [UInt64: Set<UInt64>] = [:]
    private var identityByUID: [UInt64: NodeIdentity] = [:]

    init(seed: UInt64, settings: Membership.Settings = .default) {
        self.seed = seed
        self.rng = SplitMix64(seed: seed)
        self.settings = settings
    }

    /// `10.x.y.z:7000` for slot i.
    static func address(_ slot: Int) -> NodeAddress {
        NodeAddress(host: "10.\(slot / 65536 % 256).\(slot / 256 % 256).\(slot % 256)", port: 7000)
    }

    var count: Int { processes.count }

    func identity(_ slot: Int) -> NodeIdentity { processes[slot].identity }
    func machine(_ slot: Int) -> Membership.Machine { processes[slot].machine }
    func state(_ slot: Int) -> ProcessState { processes[slot].state }

    private func newUID() -> UInt64 {
        while true {
            let uid = rng.next()
            if uid != 0 && identityByUID[uid] == nil { return uid }
        }
    }

    private func addSlot(_ machine: Membership.Machine) -> Int {
        let slot = processes.count
        processes.append(Process(machine: machine, state: .running))
        slotByAddress[machine.myself.node.address] = slot
        identityByUID[machine.myself.node.uid] = machine.myself.node
        wakeGeneration.append(0)
        scheduledWake.append(.max)
        starveNs.append(0)
        inboundDelayNs.append(0)
        side.append(0)
        reschedule(slot)
        return slot
    }

    /// A new process that joins through `seeds` (slots); `ownSeed` lists its own address among them.
    @discardableResult
    func addJoining(seeds: [Int], ownSeed: Bool = false) -> Int {
        let slot = processes.count
        let node = NodeIdentity(address: Self.address(slot), uid: newUID())
        var seedAddresses = seeds.map { Self.address($0) }
        if ownSeed { seedAddresses.insert(node.address, at: 0) }
        let machine = Membership.Machine(node: node, name: "n\(slot)", roles: [], seeds: seedAddresses, settings: settings,
                                         nowNs: nowNs, randomSeed: rng.next())
        return addSlot(machine)
    }

    /// `n` processes that start `up` as one converged cluster (no join phase).
    func bootstrap(_ n: Int) {
        let first = processes.count
        let nodes = (0..<n).map { NodeIdentity(address: Self.address(first + $0), uid: newUID()) }
        let members = nodes.enumerated().map {
            Membership.Member(node: $0.element, name: "n\(first + $0.offset)", roles: [], status: .up, incarnation: 0)
        }
        let table = Dictionary(uniqueKeysWithValues: members.map { ($0.node, $0.status) })
        for (i, node) in nodes.enumerated() {
            reported[node.uid] = table
            _ = addSlot(Membership.Machine(node: node, name: "n\(first + i)", roles: [], converged: members, settings: settings,
                                           nowNs: nowNs, randomSeed: rng.next()))
        }
    }

    // MARK: Faults

    func crash(_ slot: Int) { stop(slot, as: .crashed) }

    private func stop(_ slot: Int, as state: ProcessState) {
        guard processes[slot].state == .running || processes[slot].state == .paused else { return }
        processes[slot].state = state
        invalidateWake(slot)
        let uid = identity(slot).uid
        let lost = identity(slot)
        for peer in (connections.removeValue(forKey: uid) ?? []).sorted() {
            connections[peer]?.remove(uid)
            guard let peerIdentity = identityByUID[peer], let peerSlot = slotByAddress[peerIdentity.address] else { continue }
            schedule(at: nowNs + latency(), .deliver(slot: peerSlot, uid: peer, input: .connectionLost(lost)))
        }
    }

    func pause(_ slot: Int) {
        guard processes[slot].state == .running else { return }
        processes[slot].state = .paused
        invalidateWake(slot)
    }

    func resume(_ slot: Int) {
        guard processes[slot].state == .paused else { return }
        processes[slot].state = .running
        wakeGeneration[slot] += 1
        scheduledWake[slot] = nowNs
        schedule(at: nowNs, .wake(slot: slot, generation: wakeGeneration[slot]))
    }

    /// A new process (new uid) at the address of crashed `slot`, joining through `seeds`; `remembered`: the slots
    /// whose addresses its data directory remembers as the last agreed member set.
    func restart(_ slot: Int, seeds: [Int], remembered: [Int] = []) {
        precondition(processes[slot].state == .crashed || processes[slot].state == .exited)
        let node = NodeIdentity(address: Self.address(slot), uid: newUID())
        identityByUID[node.uid] = node
        processes[slot] = Process(machine: Membership.Machine(node: node, name: "n\(slot)'", roles: [],
                                                              seeds: seeds.map { Self.address($0) },
                                                              remembered: remembered.map { Self.address($0) }, settings: settings,
                                                              nowNs: nowNs, randomSeed: rng.next()),
                                  state: .running)
        reschedule(slot)
    }

    /// Splits the network: slots on different sides cannot talk (unlisted slots are on side 0 with the first).
    func partition(_ sides: [[Int]]) {
        for i in side.indices { side[i] = 0 }
        for (s, slots) in sides.enumerated() { for slot in slots { side[slot] = s } }
        partitioned = true
    }

    func heal() { partitioned = false }

    /// Links that drop every message between two slots, both ways (a partition of single links).
    private var blockedLinks: Set<[Int]> = []
    func block(_ a: Int, _ b: Int) { blockedLinks.insert([min(a, b), max(a, b)]) }
    func unblockAllLinks() { blockedLinks = [] }

    /// Delivers `slot`'s ticks `ms` late (its timers fire late, as on a CPU-starved process); with
    /// `inboundToo`, the messages it receives are handled that much late as well. 0 ends the starvation.
    func starve(_ slot: Int, byMs ms: UInt64, inboundToo: Bool = false) {
        starveNs[slot] = ms * 1_000_000
        inboundDelayNs[slot] = inboundToo ? ms * 1_000_000 : 0
        invalidateWake(slot)
        reschedule(slot)
    }

    /// Feeds an input to a running process now (operator commands in tests).
    func inject(_ slot: Int, _ input: Membership.Input) {
        deliver(slot: slot, uid: identity(slot).uid, input: input)
    }

    // MARK: Running

    /// `stop` is checked after every step, or at most once per this much virtual time (large clusters).
    var stopCheckIntervalNs: UInt64 = 0

    /// Runs until virtual `untilNs`, or until `stop` holds (checked after every step, see
    /// `stopCheckIntervalNs`), or `maxSteps`. Returns whether `stop` held (true when there is no `stop` and
    /// the time was reached).
    @discardableResult
    func run(untilNs: UInt64, maxSteps: Int = 5_000_000, stop: (() -> Bool)? = nil) -> Bool {
        var done = 0
        var nextCheck: UInt64 = 0
        while let next = heap.first, next.timeNs <= untilNs, done < maxSteps {
            popFirst()
            nowNs = max(nowNs, next.timeNs)
            steps += 1
            done += 1
            switch next.kind {
            case .deliver(let slot, let uid, let input):
                deliver(slot: slot, uid: uid, input: input)
            case .wake(let slot, let generation):
                guard generation == wakeGeneration[slot], processes[slot].state == .running else { continue }
                scheduledWake[slot] = .max
                deliver(slot: slot, uid: identity(slot).uid, input: .tick)
            }
            if let stop, nowNs >= nextCheck {
                if stop() { return true }
                nextCheck = nowNs + stopCheckIntervalNs
            }
        }
        if heap.first.map({ $0.timeNs > untilNs }) ?? true { nowNs = max(nowNs, untilNs) }
        return stop == nil || stop!()
    }

    func run(forMs ms: UInt64, stop: (() -> Bool)? = nil) -> Bool { run(untilNs: nowNs + ms * 1_000_000, stop: stop) }

    @discardableResult
    func runFor(ms: UInt64) -> Bool { run(untilNs: nowNs + ms * 1_000_000) }

    private func deliver(slot: Int, uid: UInt64, input: Membership.Input) {
        guard processes[slot].state == .running, identity(slot).uid == uid else { return }
        let from = identity(slot)
        trace?(slot, input)
        if reported[uid] == nil {
            reported[uid] = Dictionary(uniqueKeysWithValues: processes[slot].machine.members.map { ($0.node, $0.status) })
        }
        let actions = processes[slot].machine.handle(input, nowNs: nowNs)
        for action in actions {
            switch action {
            case .send(let message, let to, _):
                send(message, from: slot, to: to)
            case .recordContact:
                break
            case .event(let event):
                observations.append(Observation(timeNs: nowNs, slot: slot, observer: from, event: event))
                if case .memberChanged(let m, let previous) = event {
                    let last = reported[uid]?[m.node]
                    if previous != last && !(previous == nil && last == .removed) || previous == m.status {
                        violate("slot \(slot) reported \(event) after \(last.map(\.rawValue) ?? "nothing")")
                    }
                    reported[uid]?[m.node] = m.status
                }
            }
        }
        let wake = processes[slot].machine.nextWakeupNs
        if wake <= nowNs && !processes[slot].machine.myself.status.isTerminal {
            violate("slot \(slot) asks to wake at \(wake) ≤ now \(nowNs) after \(input)")
        }
        // The incremental reachable count of the agreed set matches a recount (small clusters: O(N) a step).
        if processes.count <= 64 && processes[slot].machine.myself.status.isActive {
            let m = processes[slot].machine
            let recount = m.quorum.agreed.filter { m.isReachable($0) }.count
            if recount != m.agreedReachable { violate("slot \(slot) counts \(m.agreedReachable) reachable, recount \(recount), after \(input)") }
        }
        if processes[slot].machine.myself.status == .removed {
            stop(slot, as: .exited)
            return
        }
        reschedule(slot)
    }

    private func violate(_ what: String) {
        if violations.count < 20 { violations.append("\(what) (\(failureContext))") }
    }

    private func send(_ message: Membership.Message, from slot: Int, to: NodeIdentity) {
        messagesSent += 1
        let source = identity(slot)
        guard let target = slotByAddress[to.address] else {
            schedule(at: nowNs + 2 * latency(), .deliver(slot: slot, uid: source.uid, input: .unreachable(to.address, refused: true)))
            return
        }
        if partitioned && side[slot] != side[target] { return }
        if !blockedLinks.isEmpty && blockedLinks.contains([min(slot, target), max(slot, target)]) { return }
        switch processes[target].state {
        case .crashed, .exited:
            schedule(at: nowNs + 2 * latency(), .deliver(slot: slot, uid: source.uid, input: .unreachable(to.address, refused: true)))
            return
        case .paused:
            return
        case .running:
            break
        }
        if loss > 0 && rng.nextUnit() < loss { return }
        let destination = identity(target)
        let at = nowNs + latency() + inboundDelayNs[target]
        if connections[source.uid]?.contains(destination.uid) != true {
            connections[source.uid, default: []].insert(destination.uid)
            connections[destination.uid, default: []].insert(source.uid)
            schedule(at: at, .deliver(slot: slot, uid: source.uid, input: .associated(destination)))
            schedule(at: at, .deliver(slot: target, uid: destination.uid, input: .associated(source)))
        }
        guard to.uid == 0 || to.uid == destination.uid else { return }
        schedule(at: at, .deliver(slot: target, uid: destination.uid, input: .received(message, from: source)))
    }

    private func latency() -> UInt64 {
        latencyNs.lowerBound + UInt64(rng.below(Int(latencyNs.upperBound - latencyNs.lowerBound) + 1))
    }

    private func invalidateWake(_ slot: Int) {
        wakeGeneration[slot] += 1
        scheduledWake[slot] = .max
    }

    private func reschedule(_ slot: Int) {
        guard processes[slot].state == .running else { return }
        let wake = processes[slot].machine.nextWakeupNs
        guard wake != scheduledWake[slot] else { return }
        wakeGeneration[slot] += 1
        scheduledWake[slot] = wake
        guard wake != .max else { return }
        schedule(at: max(wake, nowNs) + starveNs[slot], .wake(slot: slot, generation: wakeGeneration[slot]))
    }

    // MARK: Heap

    private func schedule(at time: UInt64, _ kind: Kind) {
        order += 1
        heap.append(Scheduled(timeNs: time, order: order, kind: kind))
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard heap[i] < heap[parent] else { break }
            heap.swapAt(i, parent)
            i = parent
        }
    }

    private func popFirst() {
        let last = heap.removeLast()
        guard !heap.isEmpty else { return }
        heap[0] = last
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < heap.count && heap[l] < heap[m] { m = l }
            if r < heap.count && heap[r] < heap[m] { m = r }
            if m == i { return }
            heap.swapAt(i, m)
            i = m
        }
    }

    // MARK: Views

    /// The status `observer` holds for `node` (nil: not listed; tombstoned ones are `.removed`).
    func status(at observer: Int, of node: NodeIdentity) -> Membership.Status? {
        if let member = processes[observer].machine.member(node) { return member.status }
        return processes[observer].machine.tombstoned(node) ? .removed : nil
    }

    /// Running processes (not paused, crashed or exited), optionally without some slots.
    func running(except: Set<Int> = []) -> [Int] {
        processes.indices.filter { processes[$0].state == .running && !except.contains($0) }
    }

    /// Every slot in `observers` holds `node` as down or removed.
    func allSeeGone(_ node: NodeIdentity, observers: [Int]) -> Bool {
        observers.allSatisfy { status(at: $0, of: node).map { $0.isTerminal } ?? false }
    }

    /// The first time `slot`'s process reported `node` with `status` (nil: never).
    func firstTime(at slot: Int, of node: NodeIdentity, status: Membership.Status) -> UInt64? {
        observations.first {
            guard $0.slot == slot, case .memberChanged(let m, _) = $0.event else { return false }
            return m.node == node && m.status == status
        }?.timeNs
    }

    /// Every `memberChanged` any process reported about `node`.
    func changes(of node: NodeIdentity) -> [(slot: Int, status: Membership.Status, previous: Membership.Status?)] {
        observations.compactMap {
            guard case .memberChanged(let m, let previous) = $0.event, m.node == node else { return nil }
            return ($0.slot, m.status, previous)
        }
    }

    var failureContext: String { "seed \(seed), virtual time \(Double(nowNs) / 1e9) s, steps \(steps)" }
}

extension MembershipSimulation {
    static func nanoseconds(_ d: Duration) -> UInt64 { Membership.nanoseconds(d) }
}
