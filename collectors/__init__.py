"""Collectors: MQTT → Kafka, acknowledging a message only once Kafka holds what it became."""
