// Device memory as the backend boundary sees it: a count of 4-byte elements of one type, nothing more.

/// The element types a buffer can hold. Both are 4 bytes wide.
public enum DType: String, CaseIterable, Sendable {
    /// IEEE single precision: all numeric data.
    case float32
    /// 32-bit integers: row indices for gathers and raw random bits.
    case int32

    public var byteWidth: Int { 4 }
}

/// An upload that ``Backend/startUpload(_:to:offset:)`` started. A backend that copies at once returns this class itself,
/// which is complete; a backend with a device subclasses it to hold what later work must wait for.
open class PendingUpload {
    public init() {}
}

/// Memory owned by one backend. Subclasses (one per backend) hold the storage and free it in `deinit`.
///
/// A buffer has no shape: shapes are arguments of the operations, so one buffer can serve as a
/// matrix in one call and a flat vector in the next.
// @unchecked: an open class cannot be checked. Its own properties are `let`; a subclass holds one handle to its storage,
// set in init, and the storage's contents are ordered by the owning backend (see CPUBuffer and OpenCLBuffer).
open class Buffer: @unchecked Sendable {
    /// Number of elements.
    public let count: Int
    /// Element type.
    public let dtype: DType

    public init(count: Int, dtype: DType) {
        self.count = count
        self.dtype = dtype
    }

    /// Throws unless this buffer holds at least `needed` elements of `type`.
    public func check(holds needed: Int, of type: DType = .float32, _ role: String) throws {
        try require(dtype == type, "\(role) must be \(type.rawValue), got \(dtype.rawValue)")
        try require(needed >= 0, "\(role): negative element count \(needed)")
        try require(count >= needed, "\(role) holds \(count) elements, the operation needs \(needed)")
    }
}
