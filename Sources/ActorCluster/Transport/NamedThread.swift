import CEpoll
import Glibc

/// Starts a joinable pthread named `name` (the kernel keeps at most 15 bytes) that runs `body`; nil when
/// `pthread_create` failed. The closure (and what it captures) is held until `body` returns. Used for the threads
/// the runtime owns: the event loop's and the call threads.
func startNamedThread(_ name: String, _ body: @escaping () -> Void) -> pthread_t? {
    let box = Unmanaged.passRetained(NamedThreadBox(name: name, body: body))
    var tid = pthread_t()
    guard pthread_create(&tid, nil, namedThreadMain, box.toOpaque()) == 0 else {
        box.release()
        return nil
    }
    return tid
}

private final class NamedThreadBox {
    let name: String
    let body: () -> Void
    init(name: String, body: @escaping () -> Void) {
        self.name = name
        self.body = body
    }
}

private func namedThreadMain(_ arg: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    guard let arg else { return nil }
    let box = Unmanaged<NamedThreadBox>.fromOpaque(arg).takeRetainedValue()
    cepoll_set_thread_name(box.name)
    box.body()
    return nil
}
