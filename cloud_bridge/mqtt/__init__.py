"""An MQTT session to a cloud broker (AWS IoT Core, EMQX, HiveMQ, Mosquitto), for the uplink.

    async with CloudMqttClient(host, 8883, client_id="edgegw-site-7", ssl_context=ctx) as c:
        await c.connect()
        await c.publish("fleet/site-7/events/sensor.alert", body)   # resolves on PUBACK

Takes primitives (host, port, TLS context, client id), never the gateway's config.
"""

from cloud_bridge.mqtt.client import CloudMqttClient, ConnectInfo, IncomingMessage

__all__ = ["CloudMqttClient", "ConnectInfo", "IncomingMessage"]
