import Synchronization

/// A flag that starts clear, is set once, and is read from any thread: a stop request from a signal handler, "the
/// shared OpenCL backend was made", "MPI was initialised". An atomic rather than a lock, so setting it is also safe
/// inside a signal handler.
public final class SetOnceFlag: Sendable {
    private let value = Atomic<Bool>(false)

    public init() {}

    public func set() { value.store(true, ordering: .releasing) }

    public var isSet: Bool { value.load(ordering: .acquiring) }
}
