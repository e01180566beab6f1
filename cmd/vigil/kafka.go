package main

import "github.com/confluentinc/confluent-kafka-go/v2/kafka"

func kafkaVersion() (int, string) { return kafka.LibraryVersion() }
