-- The baseline of the PostgreSQL history: the schema as the SQLite history builds it by 20261206190000_readers_taste
-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "PromptKind" AS ENUM ('start', 'acrostic', 'none');

-- CreateTable
CREATE TABLE "Poem" (
    "id" SERIAL NOT NULL,
    "kind" TEXT NOT NULL DEFAULT 'poem',
    "guildId" TEXT NOT NULL,
    "channelId" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "promptKind" "PromptKind" NOT NULL,
    "promptText" TEXT NOT NULL DEFAULT '',
    "form" TEXT NOT NULL,
    "script" TEXT NOT NULL,
    "text" TEXT NOT NULL,
    "checkpointVersion" TEXT NOT NULL,
    "messageId" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "seed" INTEGER,
    "options" TEXT NOT NULL DEFAULT '{}',
    "candidates" INTEGER NOT NULL DEFAULT 1,
    "tasteVersion" TEXT,
    "replacesPoemId" INTEGER,

    CONSTRAINT "Poem_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Rating" (
    "id" SERIAL NOT NULL,
    "poemId" INTEGER NOT NULL,
    "userId" TEXT NOT NULL,
    "stars" INTEGER NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Rating_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "TrainingRun" (
    "id" SERIAL NOT NULL,
    "trigger" TEXT NOT NULL,
    "requestedBy" TEXT,
    "status" TEXT NOT NULL,
    "startedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "endedAt" TIMESTAMP(3),
    "baseVersion" TEXT NOT NULL,
    "candidateVersion" TEXT,
    "steps" INTEGER NOT NULL DEFAULT 0,
    "tokens" INTEGER NOT NULL DEFAULT 0,
    "ratedPoems" INTEGER NOT NULL DEFAULT 0,
    "pplBefore" DOUBLE PRECISION,
    "pplAfter" DOUBLE PRECISION,
    "decision" TEXT,
    "error" TEXT,
    "lossCurve" TEXT NOT NULL DEFAULT '[]',
    "recipe" TEXT,
    "tasteVersion" TEXT,
    "gate" TEXT NOT NULL DEFAULT '{}',

    CONSTRAINT "TrainingRun_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "TasteVersion" (
    "version" TEXT NOT NULL,
    "path" TEXT NOT NULL,
    "sha256" TEXT NOT NULL,
    "heldOutAuc" DOUBLE PRECISION,
    "heldOutPoems" INTEGER NOT NULL DEFAULT 0,
    "trainedPoems" INTEGER NOT NULL DEFAULT 0,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "active" BOOLEAN NOT NULL DEFAULT false,
    "activatedAt" TIMESTAMP(3),
    "runId" INTEGER,

    CONSTRAINT "TasteVersion_pkey" PRIMARY KEY ("version")
);

-- CreateTable
CREATE TABLE "ModelVersion" (
    "version" TEXT NOT NULL,
    "parent" TEXT,
    "path" TEXT NOT NULL,
    "sha256" TEXT NOT NULL,
    "devPerplexity" DOUBLE PRECISION,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "active" BOOLEAN NOT NULL DEFAULT false,
    "activatedAt" TIMESTAMP(3),
    "runId" INTEGER,

    CONSTRAINT "ModelVersion_pkey" PRIMARY KEY ("version")
);

-- CreateIndex
CREATE UNIQUE INDEX "Poem_messageId_key" ON "Poem"("messageId");

-- CreateIndex
CREATE INDEX "Poem_createdAt_idx" ON "Poem"("createdAt");

-- CreateIndex
CREATE INDEX "Poem_guildId_createdAt_idx" ON "Poem"("guildId", "createdAt");

-- CreateIndex
CREATE INDEX "Poem_kind_createdAt_idx" ON "Poem"("kind", "createdAt");

-- CreateIndex
CREATE INDEX "Poem_replacesPoemId_idx" ON "Poem"("replacesPoemId");

-- CreateIndex
CREATE UNIQUE INDEX "Rating_poemId_userId_key" ON "Rating"("poemId", "userId");

-- CreateIndex
CREATE INDEX "TrainingRun_startedAt_idx" ON "TrainingRun"("startedAt");

-- AddForeignKey
ALTER TABLE "Rating" ADD CONSTRAINT "Rating_poemId_fkey" FOREIGN KEY ("poemId") REFERENCES "Poem"("id") ON DELETE CASCADE ON UPDATE CASCADE;

