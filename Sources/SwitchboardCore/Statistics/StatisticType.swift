/// A kind of statistic a report can ask for: its metrics, its dimensions, and whether the server computes
/// it from the event log or only stores what other systems push.
///
/// The registry is `StatisticType.all`; pushes and reports naming anything else are refused.
public struct StatisticType: NamedOption {
    /// The name clients write as `type`.
    public let name: String
    /// The metrics, in report order.
    public let metrics: [StatisticMetric]
    /// Whether rollups of the event log feed this type (besides pushes).
    public let isComputed: Bool
    /// A sentence for the documentation.
    public let summary: String

    /// Every type shares these dimensions; a push names them by `pushKey`, a report by `name`.
    public static let dimensions = StatisticDimension.all

    /// How many accumulator slots one row of this type holds: one per count, two (sum, weight) per average.
    public var slotCount: Int { metrics.reduce(0) { $0 + $1.slotCount } }

    /// The first slot of each metric, in `metrics` order.
    public var slotOffsets: [Int] {
        var offsets: [Int] = []
        var next = 0
        for metric in metrics {
            offsets.append(next)
            next += metric.slotCount
        }
        return offsets
    }

    /// The metric named `name`, with its first slot.
    public func metric(named name: String) -> (metric: StatisticMetric, slot: Int)? {
        guard let index = metrics.firstIndex(where: { $0.name == name }) else { return nil }
        return (metrics[index], slotOffsets[index])
    }

    /// Metric name to value for accumulator slots: counts as they are, averages as the weighted mean
    /// rounded to milliseconds, or nil when nothing was averaged.
    public func values(of slots: [Double]) -> [(name: String, value: Double?)] {
        zip(metrics, slotOffsets).map { metric, offset in
            switch metric.kind {
            case .count:
                (metric.name, slots[offset])
            case .average:
                (metric.name, slots[offset + 1] > 0 ? (slots[offset] / slots[offset + 1] * 1_000).rounded() / 1_000 : nil)
            }
        }
    }

    /// Conversations, computed from the event log per hour, agent, category and channel.
    ///
    /// The slot layout is what `ConversationRollup` fills; keep the two in step.
    public static let conversation = StatisticType(
        name: "conversation",
        metrics: [
            .count("total", "Conversations created."),
            .count("closed", "Conversations ended."),
            .count("success", "Conversations ended without a ticket created for them."),
            .count("messages", "Messages received."),
            .count("tickets_created", "Tickets created for a conversation."),
            .count("responded", "Conversations that got their first agent message."),
            .average("first_response_time", weight: "responded", "Mean seconds from creation to the first agent message."),
            .average("resolution_time", weight: "success", "Mean seconds from creation to end, over conversations ended without a ticket."),
            .average("avg_duration", weight: "closed", "Mean seconds from creation to end, over every ended conversation."),
        ],
        isComputed: true,
        summary: "Conversation volume and timings; computed from the event log, and pushed figures add to it."
    )

    /// Calls handled by a telephony or call-center system, pushed by that system.
    public static let call = StatisticType(
        name: "call",
        metrics: [
            .count("total", "Calls."),
            .count("success", "Calls answered and completed."),
            .count("missed", "Calls not answered."),
            .average("avg_duration", weight: "success", "Mean seconds per completed call."),
            .average("avg_wait", weight: "total", "Mean seconds a caller waited."),
        ],
        isComputed: false,
        summary: "Call-center figures; pushed only."
    )

    /// Customer satisfaction surveys, pushed by a survey system.
    public static let satisfaction = StatisticType(
        name: "satisfaction",
        metrics: [
            .count("total", "Answered surveys."),
            .count("promoters", "Answers scoring 9 or 10."),
            .count("detractors", "Answers scoring 0 to 6."),
            .average("score", weight: "total", "Mean score."),
        ],
        isComputed: false,
        summary: "Survey answers; pushed only."
    )

    /// Every type, in documentation order.
    public static let all: [StatisticType] = [.conversation, .call, .satisfaction]
}

/// One metric of a statistic type.
public struct StatisticMetric: Hashable, Sendable {
    /// How values combine across rows, periods and sources.
    public enum Kind: Hashable, Sendable {
        /// Values add up.
        case count
        /// A weighted mean: sums of value × weight and of weights add up; the report divides. `weight` names
        /// the count metric a push may send as the weight.
        case average(weight: String)
    }

    /// The name in pushes and reports.
    public let name: String
    public let kind: Kind
    /// A sentence for the documentation.
    public let summary: String

    /// One slot for a count; a sum and a weight slot for an average.
    public var slotCount: Int {
        if case .average = kind { 2 } else { 1 }
    }

    static func count(_ name: String, _ summary: String) -> StatisticMetric {
        StatisticMetric(name: name, kind: .count, summary: summary)
    }

    static func average(_ name: String, weight: String, _ summary: String) -> StatisticMetric {
        StatisticMetric(name: name, kind: .average(weight: weight), summary: summary)
    }
}

/// A dimension rows can be split by.
public struct StatisticDimension: NamedOption {
    /// The name in a report's `dimensions` parameter.
    public let name: String
    /// The key in a push's `dimension` object and in report rows.
    public let key: String
    /// Its position in a row's dimension values.
    public let index: Int

    public static let agent = StatisticDimension(name: "agent", key: "agent_id", index: 0)
    public static let category = StatisticDimension(name: "category", key: "category", index: 1)
    public static let channel = StatisticDimension(name: "channel", key: "channel", index: 2)

    /// Every dimension, in `index` order.
    public static let all: [StatisticDimension] = [.agent, .category, .channel]

    /// The longest dimension value accepted.
    public static let maxValueLength = 128
}
