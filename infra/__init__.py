"""Infrastructure: the local Kafka broker, topic definitions, Kafka client configuration."""
