"""The Kaphila gateway: Twilio's server half and the team's hub, on NATS JetStream.

``python -m console.gateway`` / ``kaphila-gateway`` runs one; ``server.Gateway``
embeds one in a running loop and ``server.GatewayThread`` runs one in a thread.
"""
