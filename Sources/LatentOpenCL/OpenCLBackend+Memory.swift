// Allocation, transfers, copies and fills on the OpenCL backend (buffer commands, no kernels).

import COpenCL
import LatentCore

extension OpenCLBackend {
    public func allocate(count: Int, dtype: DType) throws -> Buffer {
        try require(count >= 0, "cannot allocate \(count) elements")
        let (product, overflow) = max(count, 1).multipliedReportingOverflow(by: dtype.byteWidth)
        let bytes = overflow ? UInt64.max : UInt64(product)
        if bytes > device.maxAllocation || bytes > device.globalMemory {
            throw BackendError.outOfMemory(
                "\(overflow ? "more than \(Int.max) bytes" : "\(bytes >> 20) MiB") asked for, \(device.name) allows \(device.maxAllocation >> 20) MiB per buffer "
                    + "and has \(device.globalMemory >> 20) MiB in all")
        }
        return try OpenCLBuffer(context: context, count: count, dtype: dtype)
    }

    private func write(_ raw: UnsafeRawPointer, bytes: Int, to buffer: Buffer, byteOffset: Int) throws {
        let m = try mem(buffer, "upload destination")
        try withQueue { q in
            try check(clEnqueueWriteBuffer(q, m, cl_bool(CL_TRUE), byteOffset, bytes, raw, 0, nil, nil), "clEnqueueWriteBuffer")
        }
    }

    private func read(_ buffer: Buffer, into raw: UnsafeMutableRawPointer, bytes: Int, byteOffset: Int) throws {
        let m = try mem(buffer, "download source")
        try withQueue { q in
            try check(clEnqueueReadBuffer(q, m, cl_bool(CL_TRUE), byteOffset, bytes, raw, 0, nil, nil), "clEnqueueReadBuffer")
        }
    }

    public func upload(_ values: [Float], to buffer: Buffer, offset: Int) throws {
        try require(offset >= 0, "negative offset")
        try buffer.check(holds: offset + values.count, "upload destination")
        if values.isEmpty { return }
        try values.withUnsafeBytes { try write($0.baseAddress!, bytes: $0.count, to: buffer, byteOffset: offset * 4) }
    }

    public func upload(_ values: [Int32], to buffer: Buffer, offset: Int) throws {
        try require(offset >= 0, "negative offset")
        try buffer.check(holds: offset + values.count, of: .int32, "upload destination")
        if values.isEmpty { return }
        try values.withUnsafeBytes { try write($0.baseAddress!, bytes: $0.count, to: buffer, byteOffset: offset * 4) }
    }

    /// A marker on the compute queue (the ops issued so far) gates a non-blocking write on the transfer queue, whose event
    /// ``finishUpload(_:)`` turns into a barrier on the compute queue. The values are staged in memory of the upload's
    /// own, which an event callback frees once the device has read it, so no call here waits on the host.
    public func startUpload(_ values: [Float], to buffer: Buffer, offset: Int) throws -> PendingUpload {
        let m = try mem(buffer, "upload destination")
        try require(offset >= 0, "negative offset")
        try buffer.check(holds: offset + values.count, "upload destination")
        if values.isEmpty { return PendingUpload() }
        let bytes = values.count * 4
        let staging = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        values.withUnsafeBytes { staging.copyMemory(from: $0.baseAddress!, byteCount: bytes) }
        var enqueued = false
        defer { if !enqueued { staging.deallocate() } }
        return try withTransferQueues { compute, transfer in
            var before: cl_event?
            try check(clEnqueueMarkerWithWaitList(compute, 0, nil, &before), "clEnqueueMarkerWithWaitList")
            defer { clReleaseEvent(before) }
            var done: cl_event?
            try check(clEnqueueWriteBuffer(transfer, m, cl_bool(CL_FALSE), offset * 4, bytes, staging, 1, &before, &done),
                      "clEnqueueWriteBuffer (non-blocking)")
            enqueued = true
            let upload = OpenCLPendingUpload(done: done!)
            let freeStaging: @convention(c) (cl_event?, cl_int, UnsafeMutableRawPointer?) -> Void = { _, _, staging in
                staging?.deallocate()
            }
            let registered = clSetEventCallback(done, CL_COMPLETE, freeStaging, staging)
            if registered != CL_SUCCESS {
                _ = clWaitForEvents(1, &done)  // the write may still read the staging copy: free it only when it is done
                staging.deallocate()
                try check(registered, "clSetEventCallback")
            }
            try check(clFlush(transfer), "clFlush")
            return upload
        }
    }

    public func finishUpload(_ upload: PendingUpload) throws {
        guard let upload = upload as? OpenCLPendingUpload else { return }  // the base class: nothing pending
        try withQueue { q in
            var done: cl_event? = upload.done
            try check(clEnqueueBarrierWithWaitList(q, 1, &done, nil), "clEnqueueBarrierWithWaitList")
        }
    }

    public func download(_ buffer: Buffer, offset: Int, count: Int) throws -> [Float] {
        try require(offset >= 0, "negative offset")
        try buffer.check(holds: offset + count, "download source")
        var out = [Float](repeating: 0, count: count)
        if count > 0 { try out.withUnsafeMutableBytes { try read(buffer, into: $0.baseAddress!, bytes: $0.count, byteOffset: offset * 4) } }
        return out
    }

    public func downloadInt32(_ buffer: Buffer, offset: Int, count: Int) throws -> [Int32] {
        try require(offset >= 0, "negative offset")
        try buffer.check(holds: offset + count, of: .int32, "download source")
        var out = [Int32](repeating: 0, count: count)
        if count > 0 { try out.withUnsafeMutableBytes { try read(buffer, into: $0.baseAddress!, bytes: $0.count, byteOffset: offset * 4) } }
        return out
    }

    public func copy(from source: Buffer, offset sourceOffset: Int, to destination: Buffer, offset destinationOffset: Int, count: Int) throws {
        let s = try mem(source, "copy source"), d = try mem(destination, "copy destination")
        try require(sourceOffset >= 0 && destinationOffset >= 0, "negative offset")
        try require(source.dtype == destination.dtype, "copy between \(source.dtype.rawValue) and \(destination.dtype.rawValue)")
        try source.check(holds: sourceOffset + count, of: source.dtype, "copy source")
        try destination.check(holds: destinationOffset + count, of: destination.dtype, "copy destination")
        if count == 0 { return }
        try withQueue { q in
            try check(clEnqueueCopyBuffer(q, s, d, sourceOffset * 4, destinationOffset * 4, count * 4, 0, nil, nil), "clEnqueueCopyBuffer")
        }
    }

    public func copyBlock(
        from source: Buffer, offset sourceOffset: Int, rowStride sourceStride: Int,
        to destination: Buffer, offset destinationOffset: Int, rowStride destinationStride: Int,
        rows: Int, cols: Int
    ) throws {
        let s = try mem(source, "copy source"), d = try mem(destination, "copy destination")
        try checkBlock(source, offset: sourceOffset, stride: sourceStride, rows: rows, cols: cols, "copy source")
        try checkBlock(destination, offset: destinationOffset, stride: destinationStride, rows: rows, cols: cols, "copy destination")
        if rows == 0 || cols == 0 { return }
        _ = try int(sourceOffset + rows * max(sourceStride, cols), "copy source extent")
        _ = try int(destinationOffset + rows * max(destinationStride, cols), "copy destination extent")
        try launch(.memory, "memory_copy_block_f32", global: rows * cols, [
            .buffer(s), try int(sourceOffset, "source offset"), try int(sourceStride, "source stride"), .buffer(d),
            try int(destinationOffset, "destination offset"), try int(destinationStride, "destination stride"), try int(rows, "rows"),
            try int(cols, "cols"),
        ])
    }

    public func fill(_ buffer: Buffer, with value: Float, offset: Int, count: Int) throws {
        let m = try mem(buffer, "fill destination")
        try require(offset >= 0, "negative offset")
        try buffer.check(holds: offset + count, "fill destination")
        if count == 0 { return }
        try launch(.memory, "memory_fill_f32", global: count, [.buffer(m), try int(offset, "fill offset"), try int(count, "fill count"), .float(value)])
    }
}

/// A write on the transfer queue that later compute work can wait for.
final class OpenCLPendingUpload: PendingUpload {
    let done: cl_event
    init(done: cl_event) { self.done = done }
    deinit { clReleaseEvent(done) }
}
