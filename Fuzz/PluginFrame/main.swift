// libFuzzer target for the plugin-host frame codec (Sources/SwitchboardPluginHost/Isolation/PluginFrame.swift),
// built by scripts/fuzz together with that one file. A child process is hostile to the server (and the
// server's frames are all a child reads), so both decoding entry points get every input:
//  - `PluginFrame(body:)`, the input taken as one frame body without its length prefix;
//  - `FrameChannel.receive()`, the input taken as the byte stream on a child's stdout, read from a
//    temporary file until it returns nil.
//
// Invariants checked, beyond "does not crash":
//  1. A decoded body re-encodes to exactly its length prefix and the same bytes (the format has one
//     spelling per frame), and that decodes to an equal frame.
//  2. The frames `receive()` returns, re-encoded and concatenated, are a prefix of the stream; where it
//     stopped, the rest is not a well-formed frame: too short, a length out of bounds, or a body that
//     `PluginFrame(body:)` refuses.
//  3. The accessors (`text`, `part`, `number`) answer for any index.
#if canImport(Glibc)
import Glibc
#endif

@inline(never)
func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError("invariant broken: \(message())") }
}

func show(_ bytes: some Collection<UInt8>) -> String {
    bytes.prefix(64).map { String($0, radix: 16) }.joined(separator: " ") + (bytes.count > 64 ? " … (\(bytes.count) bytes)" : "")
}

/// One unlinked temporary file (Glibc's module has no `memfd_create`), rewritten for every input, from
/// which the channel reads.
let streamFile: Int32 = {
    guard let file = tmpfile() else { fatalError("tmpfile failed: errno \(errno)") }
    return fileno(file)
}()

func receiveAll(_ bytes: [UInt8]) -> [PluginFrame] {
    guard ftruncate(streamFile, 0) == 0, lseek(streamFile, 0, SEEK_SET) == 0 else { fatalError("cannot reset the stream file") }
    var written = 0
    while written < bytes.count {
        let count = bytes.withUnsafeBytes { write(streamFile, $0.baseAddress! + written, bytes.count - written) }
        guard count > 0 else { fatalError("cannot write the stream file: errno \(errno)") }
        written += count
    }
    guard lseek(streamFile, 0, SEEK_SET) == 0 else { fatalError("cannot rewind the stream file") }
    let channel = FrameChannel(input: streamFile, output: -1)
    var frames: [PluginFrame] = []
    while let frame = channel.receive() { frames.append(frame) }
    return frames
}

func exerciseAccessors(_ frame: PluginFrame) {
    for index in -1...(frame.parts.count) {
        let part = frame.part(index)
        check(part == (frame.parts.indices.contains(index) ? frame.parts[index] : []), "part(\(index))")
        _ = frame.text(index)
        let number = frame.number(index)
        if part.count < 8 { check(number == 0, "number(\(index)) of a \(part.count)-byte part is \(number)") }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))

    // 1. The input as one body.
    if let frame = PluginFrame(body: bytes) {
        let encoded = frame.encoded()
        check(encoded == Array(littleEndian: UInt32(bytes.count)) + bytes, "body \(show(bytes)) re-encodes as \(show(encoded))")
        check(PluginFrame(body: Array(encoded.dropFirst(4))) == frame, "\(frame) does not survive encoding and decoding")
        exerciseAccessors(frame)
    }

    // 2. The input as a stream.
    let frames = receiveAll(bytes)
    var consumed = 0
    for frame in frames {
        let encoded = frame.encoded()
        check(consumed + encoded.count <= bytes.count && Array(bytes[consumed..<consumed + encoded.count]) == encoded,
              "frame \(frames.count) at byte \(consumed), \(frame), re-encodes as \(show(encoded)), not as it was read from \(show(bytes))")
        consumed += encoded.count
        exerciseAccessors(frame)
    }
    let rest = bytes[consumed...]
    if rest.count >= 4 {
        let length = rest.prefix(4).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        if length >= 19, length <= PluginFrame.maxLength, rest.count >= 4 + length {
            let body = Array(rest.dropFirst(4).prefix(length))
            check(PluginFrame(body: body) == nil, "receive() stopped at byte \(consumed) before a body that decodes: \(show(body))")
        }
    }
    return 0
}
