<?xml version="1.0" encoding="UTF-8"?>
<!--
  Shows this site's RSS 2.0 and Atom 1.0 documents (current feeds and RFC 5005
  archive pages) to a person in a browser: the feed's title, how to subscribe,
  and its items. XSLT 1.0 (the only version browsers run); no JavaScript.
  Feed readers ignore the <?xml-stylesheet?> that points here.
-->
<xsl:stylesheet version="1.0"
    xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:atom="http://www.w3.org/2005/Atom"
    xmlns:media="http://search.yahoo.com/mrss/"
    xmlns:fh="http://purl.org/syndication/history/1.0"
    exclude-result-prefixes="atom media fh">

  <xsl:output method="html" encoding="UTF-8" indent="no" doctype-system="about:legacy-compat"/>

  <xsl:variable name="channel" select="/rss/channel | /atom:feed"/>
  <xsl:variable name="links" select="/rss/channel/atom:link | /atom:feed/atom:link"/>
  <xsl:variable name="self" select="$links[@rel = 'self']/@href"/>
  <xsl:variable name="current" select="$links[@rel = 'current']/@href"/>
  <xsl:variable name="home" select="$links[@rel = 'alternate']/@href | /rss/channel/link"/>
  <xsl:variable name="title" select="$channel/title | $channel/atom:title"/>

  <xsl:template match="/">
    <html lang="{/rss/channel/language | /atom:feed/@xml:lang}">
      <head>
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <title><xsl:value-of select="$title"/></title>
        <style>
          body { font: 16px/1.5 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
          .subscribe { background: #fff7e0; border: 1px solid #e8c66a; border-radius: .4rem; padding: .5rem 1rem; }
          .subscribe code { display: block; padding: .4rem; background: #fff; border: 1px solid #ddd; overflow-wrap: anywhere; user-select: all; }
          article { display: flow-root; border-bottom: 1px solid #ddd; padding: 1rem 0; }
          article img { float: right; width: 8rem; height: auto; margin: 0 0 .5rem 1rem; border-radius: .3rem; }
          article h2 { font-size: 1.15rem; margin: 0 0 .25rem; }
          .meta { color: #666; font-size: .9rem; margin: 0; }
          nav a { margin-right: 1rem; }
        </style>
      </head>
      <body>
        <header>
          <p><a href="{$home}">All feeds of this site</a></p>
          <h1><xsl:value-of select="$title"/></h1>
          <p><xsl:value-of select="$channel/description | $channel/atom:subtitle"/></p>
          <section class="subscribe" id="subscribe">
            <h2>How to subscribe</h2>
            <xsl:choose>
              <xsl:when test="$current">
                <p>This page is an archive of older items. To follow the feed, copy its address into your
                  feed reader:</p>
                <code id="feed-url"><xsl:value-of select="$current"/></code>
              </xsl:when>
              <xsl:otherwise>
                <p>This is a news feed. Copy its address into your feed reader (NetNewsWire, Feedly,
                  Thunderbird, newsboat…) to get new items as they are published:</p>
                <code id="feed-url"><xsl:value-of select="$self"/></code>
              </xsl:otherwise>
            </xsl:choose>
          </section>
          <xsl:if test="$links[@rel = 'prev-archive' or @rel = 'next-archive' or @rel = 'current']">
            <nav>
              <xsl:if test="$current"><a href="{$current}">Newest items</a></xsl:if>
              <xsl:if test="$links[@rel = 'next-archive']">
                <a href="{$links[@rel = 'next-archive']/@href}">Newer items</a>
              </xsl:if>
              <xsl:if test="$links[@rel = 'prev-archive']">
                <a href="{$links[@rel = 'prev-archive']/@href}">Older items</a>
              </xsl:if>
            </nav>
          </xsl:if>
        </header>
        <main>
          <xsl:apply-templates select="/rss/channel/item | /atom:feed/atom:entry"/>
          <xsl:if test="not(/rss/channel/item | /atom:feed/atom:entry)">
            <p>No items on this page yet.</p>
          </xsl:if>
        </main>
      </body>
    </html>
  </xsl:template>

  <xsl:template match="item">
    <xsl:call-template name="item">
      <xsl:with-param name="link" select="link"/>
      <xsl:with-param name="title" select="title"/>
      <xsl:with-param name="image" select="(media:thumbnail/@url | enclosure[starts-with(@type, 'image/')]/@url)[1]"/>
      <xsl:with-param name="date" select="pubDate"/>
      <xsl:with-param name="provider" select="source"/>
      <xsl:with-param name="summary">
        <!-- an RSS description is escaped HTML; ours is escaped plain text -->
        <xsl:call-template name="unescape"><xsl:with-param name="text" select="description"/></xsl:call-template>
      </xsl:with-param>
    </xsl:call-template>
  </xsl:template>

  <xsl:template match="atom:entry">
    <xsl:call-template name="item">
      <xsl:with-param name="link" select="atom:link[not(@rel) or @rel = 'alternate']/@href"/>
      <xsl:with-param name="title" select="atom:title"/>
      <xsl:with-param name="image" select="(media:thumbnail/@url | atom:link[@rel = 'enclosure']/@href)[1]"/>
      <xsl:with-param name="date"
          select="concat(substring(atom:published, 1, 10), ' ', substring(atom:published, 12, 5), ' UTC')"/>
      <xsl:with-param name="provider" select="atom:author/atom:name"/>
      <xsl:with-param name="summary" select="atom:summary"/>
    </xsl:call-template>
  </xsl:template>

  <xsl:template name="item">
    <xsl:param name="link"/>
    <xsl:param name="title"/>
    <xsl:param name="image"/>
    <xsl:param name="date"/>
    <xsl:param name="provider"/>
    <xsl:param name="summary"/>
    <article>
      <xsl:if test="string($image)">
        <a href="{$link}"><img src="{$image}" alt="" loading="lazy"/></a>
      </xsl:if>
      <h2><a href="{$link}"><xsl:value-of select="$title"/></a></h2>
      <p class="meta">
        <xsl:value-of select="$date"/>
        <xsl:if test="string($provider)"> · <xsl:value-of select="$provider"/></xsl:if>
      </p>
      <xsl:if test="string($summary)"><p><xsl:value-of select="$summary"/></p></xsl:if>
    </article>
  </xsl:template>

  <!-- &lt; &gt; &amp; back to < > & (html.escape without quotes, the renderer's escaping).
       One recursion per entity; past 500 the rest is shown as it is, because libxslt stops a
       transformation at a recursion depth of 3000 and one odd summary must not blank the page. -->
  <xsl:template name="unescape">
    <xsl:param name="text"/>
    <xsl:param name="depth" select="0"/>
    <xsl:choose>
      <xsl:when test="$depth &gt; 500"><xsl:value-of select="$text"/></xsl:when>
      <xsl:when test="contains($text, '&amp;')">
        <xsl:value-of select="substring-before($text, '&amp;')"/>
        <xsl:variable name="rest" select="substring-after($text, '&amp;')"/>
        <xsl:choose>
          <xsl:when test="starts-with($rest, 'lt;')">&lt;<xsl:call-template name="unescape">
            <xsl:with-param name="depth" select="$depth + 1"/><xsl:with-param name="text" select="substring($rest, 4)"/></xsl:call-template></xsl:when>
          <xsl:when test="starts-with($rest, 'gt;')">&gt;<xsl:call-template name="unescape">
            <xsl:with-param name="depth" select="$depth + 1"/><xsl:with-param name="text" select="substring($rest, 4)"/></xsl:call-template></xsl:when>
          <xsl:when test="starts-with($rest, 'amp;')">&amp;<xsl:call-template name="unescape">
            <xsl:with-param name="depth" select="$depth + 1"/><xsl:with-param name="text" select="substring($rest, 5)"/></xsl:call-template></xsl:when>
          <xsl:otherwise>&amp;<xsl:call-template name="unescape">
            <xsl:with-param name="depth" select="$depth + 1"/><xsl:with-param name="text" select="$rest"/></xsl:call-template></xsl:otherwise>
        </xsl:choose>
      </xsl:when>
      <xsl:otherwise><xsl:value-of select="$text"/></xsl:otherwise>
    </xsl:choose>
  </xsl:template>
</xsl:stylesheet>
