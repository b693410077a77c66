# syntax=docker/dockerfile:1
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/guestpass ./cmd/guestpass

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/guestpass /guestpass
COPY config /config
EXPOSE 8080
USER nonroot
ENTRYPOINT ["/guestpass"]
CMD ["serve", "--config", "/config/compose.yaml"]
