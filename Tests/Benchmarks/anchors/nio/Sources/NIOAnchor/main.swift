// SwiftNIO anchor: frames with a 4-byte big-endian length prefix over 127.0.0.1 TCP (TCP_NODELAY), one event
// loop thread per process, as a NIO service would be written:
//
//   NIOAnchor server echo          listen on an ephemeral port, print "port N", echo every frame (flush per read)
//   NIOAnchor server sink COUNT    listen, print "port N", count frames; after COUNT answer one empty frame
//   NIOAnchor client rtt      PORT CALLS SIZE        one outstanding frame: latency per call
//   NIOAnchor client pipeline PORT CALLS SIZE DEPTH  DEPTH outstanding; replies answered with new requests,
//                                                    flushed once per read
//   NIOAnchor client stream   PORT COUNT SIZE        one-way frames, flushed every 64 and honouring
//                                                    writability; timed until the receiver's ack
//
// The client prints "RESULT impl=nio workload=... key=value ...".
import Foundation
import NIOCore
import NIOPosix

struct FrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer
    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let len = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self),
              buffer.readableBytes >= 4 + Int(len) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 4)
        context.fireChannelRead(wrapInboundOut(buffer.readSlice(length: Int(len))!))
        return .continue
    }
}

func frame(_ allocator: ByteBufferAllocator, size: Int, byte: UInt8) -> ByteBuffer {
    var b = allocator.buffer(capacity: 4 + size)
    b.writeInteger(UInt32(size))
    b.writeRepeatingByte(byte, count: size)
    return b
}

final class EchoHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var payload = unwrapInboundIn(data)
        var out = context.channel.allocator.buffer(capacity: 4 + payload.readableBytes)
        out.writeInteger(UInt32(payload.readableBytes))
        out.writeBuffer(&payload)
        context.write(wrapOutboundOut(out), promise: nil)
    }
    func channelReadComplete(context: ChannelHandlerContext) { context.flush() }
}

final class SinkHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let count: Int
    var counted = 0
    init(count: Int) { self.count = count }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        counted += 1
        if counted == count {
            var ack = context.channel.allocator.buffer(capacity: 4)
            ack.writeInteger(UInt32(0))
            context.writeAndFlush(wrapOutboundOut(ack), promise: nil)
        }
    }
}

func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

final class RTTClient: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let total: Int, warm: Int, size: Int
    let done: EventLoopPromise<[Double]>
    var samples: [Double] = []
    var i = 0
    var t0: UInt64 = 0
    init(calls: Int, size: Int, done: EventLoopPromise<[Double]>) {
        warm = min(2000, calls); total = calls + warm; self.size = size; self.done = done
        samples.reserveCapacity(calls)
    }
    func send(_ context: ChannelHandlerContext) {
        t0 = now()
        context.writeAndFlush(wrapOutboundOut(frame(context.channel.allocator, size: size, byte: 0x5A)), promise: nil)
    }
    func channelActive(context: ChannelHandlerContext) { send(context) }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let t = now()
        if i >= warm { samples.append(Double(t - t0) / 1000) }
        i += 1
        if i == total { done.succeed(samples); return }
        send(context)
    }
}

final class PipelineClient: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let calls: Int, size: Int, depth: Int
    let done: EventLoopPromise<Double>
    var sent = 0, received = 0
    var t0: UInt64 = 0
    init(calls: Int, size: Int, depth: Int, done: EventLoopPromise<Double>) {
        self.calls = calls; self.size = size; self.depth = depth; self.done = done
    }
    func channelActive(context: ChannelHandlerContext) {
        t0 = now()
        while sent < min(depth, calls) {
            context.write(wrapOutboundOut(frame(context.channel.allocator, size: size, byte: 0x5A)), promise: nil)
            sent += 1
        }
        context.flush()
    }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        received += 1
        if received == calls { done.succeed(Double(now() - t0) / 1e9); return }
        if sent < calls {
            context.write(wrapOutboundOut(frame(context.channel.allocator, size: size, byte: 0x5A)), promise: nil)
            sent += 1
        }
    }
    func channelReadComplete(context: ChannelHandlerContext) { context.flush() }
}

final class StreamClient: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let count: Int, size: Int
    let done: EventLoopPromise<Double>
    var sent = 0
    var t0: UInt64 = 0
    var template: ByteBuffer?
    init(count: Int, size: Int, done: EventLoopPromise<Double>) { self.count = count; self.size = size; self.done = done }
    func pump(_ context: ChannelHandlerContext) {
        while sent < count && context.channel.isWritable {
            context.write(wrapOutboundOut(template!), promise: nil)  // ByteBuffer is copy-on-write: no copy
            sent += 1
            if sent % 64 == 0 { context.flush() }
        }
        context.flush()
    }
    func channelActive(context: ChannelHandlerContext) {
        template = frame(context.channel.allocator, size: size, byte: 0x33)
        t0 = now()
        pump(context)
    }
    func channelWritabilityChanged(context: ChannelHandlerContext) { pump(context) }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) { done.succeed(Double(now() - t0) / 1e9) }
}

func usage() -> Never {
    FileHandle.standardError.write(Data("usage: NIOAnchor server echo|sink [COUNT] | NIOAnchor client rtt|pipeline|stream PORT N SIZE [DEPTH]\n".utf8))
    exit(2)
}

let args = CommandLine.arguments
guard args.count >= 3 else { usage() }
let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)

if args[1] == "server" {
    let sink = args[2] == "sink"
    let count = args.count > 3 ? Int(args[3]) ?? 0 : 0
    let channel = try ServerBootstrap(group: group)
        .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
        .childChannelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
        .childChannelInitializer { ch in
            ch.eventLoop.makeCompletedFuture {
                try ch.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
                if sink { try ch.pipeline.syncOperations.addHandler(SinkHandler(count: count)) }
                else { try ch.pipeline.syncOperations.addHandler(EchoHandler()) }
            }
        }
        .bind(host: "127.0.0.1", port: 0).wait()
    print("port \(channel.localAddress!.port!)")
    fflush(stdout)
    try channel.closeFuture.wait()  // runs until killed
    exit(0)
}

guard args[1] == "client", args.count >= 6, let port = Int(args[3]), let n = Int(args[4]), let size = Int(args[5]) else { usage() }
let loop = group.next()
func connect(_ handler: ChannelHandler) throws -> Channel {
    try ClientBootstrap(group: group)
        .channelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
        .channelInitializer { ch in
            ch.eventLoop.makeCompletedFuture {
                try ch.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
                try ch.pipeline.syncOperations.addHandler(handler)
            }
        }
        .connect(host: "127.0.0.1", port: port).wait()
}
switch args[2] {
case "rtt":
    let done = loop.makePromise(of: [Double].self)
    let ch = try connect(RTTClient(calls: n, size: size, done: done))
    let s = try done.futureResult.wait().sorted()
    func pct(_ p: Double) -> Double { s[min(s.count - 1, Int(Double(s.count) * p))] }
    print(String(format: "RESULT impl=nio workload=rtt calls=%d median_us=%.2f p99_us=%.2f p999_us=%.2f", n, pct(0.5), pct(0.99), pct(0.999)))
    try? ch.close().wait()
case "pipeline":
    let depth = args.count > 6 ? Int(args[6]) ?? 64 : 64
    let done = loop.makePromise(of: Double.self)
    let ch = try connect(PipelineClient(calls: n, size: size, depth: depth, done: done))
    let el = try done.futureResult.wait()
    print(String(format: "RESULT impl=nio workload=pipeline calls=%d depth=%d calls_per_s=%.0f", n, depth, Double(n) / el))
    try? ch.close().wait()
case "stream":
    let done = loop.makePromise(of: Double.self)
    let ch = try connect(StreamClient(count: n, size: size, done: done))
    let el = try done.futureResult.wait()
    print(String(format: "RESULT impl=nio workload=stream messages=%d size=%d messages_per_s=%.0f", n, size, Double(n) / el))
    try? ch.close().wait()
default:
    usage()
}
fflush(stdout)
try? group.syncShutdownGracefully()
