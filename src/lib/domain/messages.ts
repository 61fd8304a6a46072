/**
 * Everything callers and agents hear, in Brazilian Portuguese, in one place.
 * Deployments override the disclaimer with DISCLAIMER_TEXT (or a recorded MP3).
 */
export const MESSAGES = {
  // Short on purpose: on outbound calls the customer hears it before an agent is connected.
  disclaimer: 'Esta ligação pode ser gravada. Seus dados seguem a Lei Geral de Proteção de Dados.',
  optOutOffer: (key: string) => `Para não receber mais ligações, digite ${key}.`,
  optOutConfirmed: 'Pronto. Seu número foi retirado da nossa lista de ligações. Obrigado e até logo.',
  optOutFailed: 'Não conseguimos registrar seu pedido agora. Por favor, ligue novamente mais tarde. Obrigado.',
  optOutNoNumber: 'Não conseguimos identificar o seu número, por isso não podemos registrar o pedido. Por favor, ligue de um número identificado. Obrigado.',
  optOutWait: 'Aguarde um instante, estamos registrando seu pedido.',
  // Said only when a person was actually alerted (Slack or SMS accepted the alert).
  optOutFailedReported:
    'Não conseguimos registrar seu pedido automaticamente agora. Nossa equipe foi avisada e vai registrá-lo. Se voltar a receber ligações, ligue novamente. Obrigado.',
  // A dialer call answered by a number that opted out after the call was placed.
  outboundOptedOut: 'Seu número está na nossa lista de não contato e não será mais chamado. Desculpe o incômodo. Até logo.',
  // A dialer call answered while the opt-out list cannot be read: it is not connected.
  outboundUnverified: 'Desculpe, não foi possível completar esta ligação agora. Até logo.',
  inboundOptedOut: 'Seu número está na nossa lista de não contato. Para atendimento, fale com nossos canais digitais. Até logo.',
  voicemail: 'Nenhum atendente está disponível no momento. Deixe sua mensagem após o sinal.',
  voicemailThanks: 'Mensagem recebida. Obrigado e até logo.',
  // Follow-me: what the agent's mobile hears before the customer is put through (the customer
  // hears ringing meanwhile). Without the agent's name (database down): a neutral line.
  followMeScreen: (agentName: string | null) =>
    `${agentName ? `Ligação para ${agentName}` : 'Ligação de cliente'}; digite 1 para atender.`,
  followMeConnecting: 'Conectando.',
  // The softphone's shift leg from an identity that is not an enabled agent.
  agentSessionRefused: 'Este telefone não está habilitado para atendimento. Entre na página do atendente com o seu usuário e tente novamente.',
  // A customer the agent answered could not be put in the agent's room (the agent left meanwhile).
  agentGone: 'O atendente não está mais disponível.',
  agentDropped: 'Desculpe, a ligação com o atendente caiu.',
  unavailable: 'No momento não conseguimos completar seu atendimento. Por favor, ligue novamente mais tarde.',
  // Campaign calls. A live customer waiting (a second or two) for an agent after the disclaimer.
  campaignHold: 'Um momento, por favor.',
  // A live customer no agent could take within the grace: short, names the company.
  campaignAbandoned: (company: string | null, callback: boolean) =>
    `${company ? `Aqui é da ${company}. ` : ''}No momento todos os nossos atendentes estão ocupados.${callback ? ' Vamos retornar a sua ligação em breve.' : ''} Obrigado.`,
  // Left on an answering machine when the campaign has neither audio nor text of its own.
  voicemailDrop: (company: string | null) =>
    `Olá, ${company ? `aqui é da ${company}` : 'tentamos falar com você'}. Por favor, retorne esta ligação quando puder. Obrigado.`,
  // Replies to text messages (SMS and WhatsApp). An opt-out word that was stored:
  messageOptOutConfirmed: 'Pronto: seu número foi retirado da nossa lista e não receberá mais ligações nossas.',
  // An opt-out word the database could not take, but a person was alerted and will list it:
  messageOptOutReported: 'Recebemos seu pedido para sair da nossa lista. Nossa equipe vai registrá-lo. Se voltar a receber ligações, responda SAIR novamente.',
  // An opt-out word neither stored nor passed on to a person: the customer must try again.
  messageOptOutFailed: 'Não conseguimos registrar seu pedido agora. Por favor, envie SAIR novamente mais tarde.',
  // What the agent hears about a lead when the campaign has no whisper template.
  whisperDefault: (lead: string | null, campaign: string) => `${lead ? `Cliente ${lead}` : 'Cliente sem nome'}, campanha ${campaign}.`,
} as const;
